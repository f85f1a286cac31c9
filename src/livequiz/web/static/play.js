// The player page: join, answer, see the result, the leaderboard and the review of missed words.
import {
  Connection, Countdown, api, describeReveal, download, el, errorText, flagControl, formatNumber,
  nextCountdown, ordinal, pauseClock, renderBoard, renderTeams, TEAM_NAMES, TEAM_SHAPES,
  contrastToggle,
} from "./connection.js";

const $ = (id) => document.getElementById(id);
contrastToggle($("contrast"));
const optionButtons = [...document.querySelectorAll("button.option")];
const KEYS = { 1: 0, 2: 1, 3: 2, 4: 3, 5: 4, 6: 5, a: 0, b: 1, c: 2, d: 3, e: 4, f: 5 };
const storageKey = (pin) => `livequiz.player.${pin}`;

const state = {
  pin: null,
  token: null,
  quizId: null,
  me: null, // player_id
  nickname: "",
  question: null, // the current question object
  chosen: null, // option index chosen for question.index
  pending: null, // an answer sent (or to send) with no ack yet
  answer: null, // the revealed answer of the current question
  announced: -1, // index of the last question whose result was announced
  players: 0,
  rank: null,
  score: 0,
  lastBoard: null,
  note: "", // said on the next question (a skipped one: it does not count)
  finished: false,
  progress: null, // homework (a self-paced quiz): {due_at_ms, done, count, finished}; else null
};
let connection = null;
const countdown = new Countdown((left, total) => {
  $("countdown").textContent = String(Math.ceil(left / 1000));
  $("timebar-fill").style.width = `${(100 * left) / total}%`;
});

function show(section) {
  for (const id of ["join-section", "lobby", "homework", "question", "finished"]) $(id).hidden = id !== section;
  $("standing").hidden = section === "join-section";
  $("board-section").hidden = section === "join-section" || section === "lobby" && !state.lastBoard;
}

function say(text) {
  $("message").textContent = text || "";
}

function announce(text) {
  // Clear first so the same words twice are still read out.
  const region = $("announcer");
  region.textContent = "";
  setTimeout(() => { region.textContent = text; }, 50);
}

function setStanding(standing) {
  if (!standing) return;
  $("my-score").textContent = formatNumber(standing.score);
  state.score = standing.score;
  state.players = standing.players ?? state.players;
  state.rank = standing.rank;
  $("my-rank").textContent = rankText();
  if (standing.team !== undefined && standing.team !== null) {
    state.team = standing.team;
    drawTeam(standing.team_rank);
  }
}

/** With teams: "▲ Red, 1st" in the header, from the standing or the newest team board. */
function drawTeam(teamRank) {
  const line = state.lastBoard?.teams?.find((t) => t.team === state.team);
  const rank = line ? line.rank : teamRank;
  const name = line ? line.name : TEAM_NAMES[state.team];
  $("my-team").textContent = `${TEAM_SHAPES[state.team]} ${name}${rank ? `, ${ordinal(rank)}` : ""}`;
  $("my-team-stat").hidden = false;
}

/** A rank means something once the player has points: at 0 everyone shares first place, and
 * "#1 of 27" in the lobby or for a wrong first answer misleads. */
function rankText() {
  return state.rank && state.score > 0 ? `#${state.rank} of ${state.players}` : "–";
}

// ------------------------------------------------------------------ joining

const params = new URLSearchParams(location.search);
const pinParam = (params.get("pin") || "").replace(/\D/g, "");
if (pinParam) $("pin").value = pinParam;

/** A quiz whose players pick their team (setting team_choice): offer its teams to pick from. */
async function offerTeams() {
  const pin = $("pin").value.replace(/\D/g, "");
  $("team-pick").hidden = true;
  if (pin.length !== 6) return;
  const { ok, data } = await api(`/api/quizzes/${pin}`);
  if (!ok || !data.team_choice || $("pin").value.replace(/\D/g, "") !== pin) return;
  $("team-options").replaceChildren(...TEAM_NAMES.slice(0, data.teams).map((name, team) => {
    const label = el("label", `team-${team}`);
    const radio = el("input");
    Object.assign(radio, { type: "radio", name: "team", value: String(team) });
    label.append(radio, ` ${TEAM_SHAPES[team]} ${name}`);
    return label;
  }));
  $("team-pick").hidden = false;
}
$("pin").addEventListener("input", offerTeams);
if (pinParam) offerTeams();

$("join-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const pin = $("pin").value.replace(/\D/g, "");
  const nickname = $("nickname").value.trim();
  if (pin.length !== 6) { say("The quiz ID is the 6-digit number on the big screen."); $("pin").focus(); return; }
  if (nickname.length < 2) { say(errorText({ code: "nickname_invalid" })); $("nickname").focus(); return; }
  if (localStorage.getItem(removedKey(pin))) { say(errorText({ code: "kicked" })); return; }
  $("join-button").disabled = true;
  say("");
  const picked = document.querySelector('#team-options input[name="team"]:checked');
  const json = picked && !$("team-pick").hidden ? { nickname, team: Number(picked.value) } : { nickname };
  const { ok, data } = await api(`/api/quizzes/${pin}/players`, { method: "POST", json });
  $("join-button").disabled = false;
  if (!ok) {
    say(errorText(data.error));
    ($("nickname").value && data.error?.code?.startsWith("nickname") ? $("nickname") : $("pin")).focus();
    // A dead phone: the name is "taken" by the student's own away player. Offer to ask the
    // teacher to let them back in as themselves (not "Leo 2" at 0).
    $("rejoin-offer").hidden = data.error?.code !== "nickname_taken";
    $("rejoin-ask").textContent = `I am ${nickname}: ask my teacher to let me back in`;
    return;
  }
  localStorage.setItem(storageKey(pin), JSON.stringify({ token: data.token, nickname: data.nickname }));
  history.replaceState(null, "", `/play?pin=${pin}`);
  connect(pin, data.token, data.nickname);
});

// ------------------------------------------------------------------ back on another device

$("nickname").addEventListener("input", () => { $("rejoin-offer").hidden = true; });

let rejoinTimer = null;

$("rejoin-ask").addEventListener("click", async () => {
  const pin = $("pin").value.replace(/\D/g, "");
  const nickname = $("nickname").value.trim();
  $("rejoin-ask").disabled = true;
  const { ok, data } = await api(`/api/quizzes/${pin}/rejoin`, { method: "POST", json: { nickname } });
  $("rejoin-ask").disabled = false;
  if (!ok) { say(errorText(data.error)); return; }
  say("");
  $("rejoin-offer").hidden = true;
  $("rejoin-wait").textContent = `Waiting for your teacher to let you back in as ${data.nickname}…`;
  $("rejoin-wait").hidden = false;
  $("join-form").hidden = true;
  announce($("rejoin-wait").textContent);
  pollRejoin(pin, data.request_id);
});

/** Ask every 2 s what the teacher said; let in: this device is the player, score and all. */
function pollRejoin(pin, requestId) {
  clearTimeout(rejoinTimer);
  rejoinTimer = setTimeout(async () => {
    const { ok, status, data } = await api(`/api/quizzes/${pin}/rejoin/${requestId}`);
    if (!ok && status !== 404 && status !== 410) { pollRejoin(pin, requestId); return; } // offline: again
    $("rejoin-wait").hidden = true;
    $("join-form").hidden = false;
    if (ok && data.status === "waiting") { $("rejoin-wait").hidden = false; $("join-form").hidden = true; pollRejoin(pin, requestId); return; }
    if (ok && data.status === "let_in") {
      localStorage.setItem(storageKey(pin), JSON.stringify({ token: data.token, nickname: data.nickname }));
      history.replaceState(null, "", `/play?pin=${pin}`);
      connect(pin, data.token, data.nickname);
      return;
    }
    say(ok ? "Your teacher did not let this device in. Join with another nickname, or ask them." : errorText(data.error));
  }, 2000);
}

function connect(pin, token, nickname) {
  state.pin = pin;
  state.token = token;
  state.nickname = nickname;
  $("lobby-nickname").textContent = nickname;
  show("lobby");
  connection = new Connection(token, { onFrame, onStatus, onGone });
  connection.start();
}

function onStatus(status) {
  const down = status === "reconnecting";
  $("connection").hidden = !down;
  if (down) say(errorText({ code: "connection_lost" }));
  else if (status === "open" && $("message").textContent === errorText({ code: "connection_lost" })) say("");
}

const removedKey = (pin) => `livequiz.removed.${pin}`;

function onGone(code) {
  localStorage.removeItem(storageKey(state.pin));
  // Removed by the host: this browser does not join the same quiz again under another name.
  // (A speed bump, not a lock: the teacher's tools are name approval and locking the quiz.)
  if (code === 4009) localStorage.setItem(removedKey(state.pin), "1");
  countdown.stop();
  $("connection").hidden = true;
  const codeName = { 4003: "bad_token", 4004: "unknown_quiz", 4009: "kicked" }[code];
  show("join-section");
  say(errorText({ code: codeName }));
}

// ------------------------------------------------------------------ frames

function onFrame(frame) {
  switch (frame.type) {
    case "welcome":
    case "snapshot": return drawSnapshot(frame);
    case "question": return openQuestion(frame.question, frame.server_time_ms);
    case "options": return onOptions(frame);
    case "ack": return onAck(frame);
    case "closed": return onClosed(frame);
    case "result": return onResult(frame);
    case "board": return onBoard(frame);
    case "finished": return onFinished();
    case "final": return onFinal(frame.results);
    case "started": return onStarted(frame);
    case "kicked": return undefined; // the close 4009 follows
    case "named": return onNamed(frame);
    case "paused":
    case "resumed": return onPause(frame);
    case "error": return onError(frame);
    default: return undefined;
  }
}

function drawSnapshot(frame) {
  const s = frame.state;
  state.quizId = frame.quiz.quiz_id;
  state.me = s.player.player_id;
  state.nickname = s.player.nickname;
  $("lobby-nickname").textContent = state.nickname;
  state.approved = s.player.approved !== false;
  showApproval();
  setStanding(s.player);
  state.progress = s.progress ?? null;
  if (s.leaderboard) onBoard(s.leaderboard);
  if (s.phase === "lobby") { show("lobby"); return; }
  if (s.phase === "finished") { onFinished(); loadResults(); return; }
  if (state.progress?.finished) { show("finished"); loadResults(); return; }
  const q = s.question;
  if (!q && state.progress) { showHomework(); return; }
  if (!q) { show("lobby"); return; }
  if (s.asked === false && !q.open) { showJoinedAfter(q); return; }
  if (q.paused) setTimeout(() => onPause({ type: "paused", index: q.index }), 0);
  const sameQuestion = state.question && state.question.index === q.index;
  openQuestion(q, frame.server_time_ms, sameQuestion ? state.chosen : null);
  if (s.answer) {
    state.chosen = s.answer.option;
    markChosen();
    state.pending = null;
    if (s.answer.revealed) showAnswer(s.answer, false);
  } else if (state.pending && state.pending.q === q.index && q.open) {
    connection.send({ type: "answer", q: state.pending.q, option: state.pending.option }); // resend
  }
  if (!q.open && q.reveal) { reveal(q.reveal); offerNext(); }
}

/** The teacher paused the question (or resumed it): the clock stands still, answers wait. */
function onPause(frame) {
  if (!pauseClock(countdown, $("countdown"), frame, state.question)) return;
  const paused = frame.type === "paused";
  state.question = { ...state.question, paused };
  optionButtons.forEach((button) => { button.disabled = paused || state.chosen !== null; });
  markChosen();
  $("note").textContent = paused ? "The teacher paused the question. Your time stands still." : "";
  $("note").hidden = !paused;
  announce(paused ? "The teacher paused the question." : "The question goes on.");
}

/** approve_names: the teacher checks each name before it shows on the big screen. */
function showApproval() {
  $("approval").hidden = state.approved;
  $("lobby-wait").hidden = !state.approved;
}

function onNamed(frame) {
  const renamed = frame.nickname !== state.nickname;
  state.nickname = frame.nickname;
  state.approved = true;
  $("lobby-nickname").textContent = frame.nickname;
  const saved = JSON.parse(localStorage.getItem(storageKey(state.pin)) || "null");
  if (saved) localStorage.setItem(storageKey(state.pin), JSON.stringify({ ...saved, nickname: frame.nickname }));
  showApproval();
  const text = renamed ? `Your teacher gave you the name ${frame.nickname}.` : "Your name is approved: look for it on the big screen.";
  $("named-note").textContent = text;
  $("named-note").hidden = false;
  announce(text);
}

/** A late joiner lands between questions: the closed one was never theirs to answer. */
function showJoinedAfter(q) {
  state.question = { ...q, open: false };
  show("lobby");
  $("lobby-wait").textContent = `The quiz is between questions (${q.index + 1} of ${q.count} just closed). The next one is yours.`;
}

// ------------------------------------------------------------------ homework (self-paced)

function dueText() {
  return new Date(state.progress.due_at_ms).toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
}

function showHomework() {
  const { done, count } = state.progress;
  $("homework-info").textContent = done
    ? `${done} of ${count} questions done. Due ${dueText()}.`
    : `${count} questions, due ${dueText()}.`;
  $("homework-start").textContent = done ? "Continue" : "Start";
  show("homework");
  $("homework-start").focus({ preventScroll: true });
}

function onStarted(frame) {
  state.progress = { due_at_ms: frame.due_at_ms, done: 0, count: frame.question_count, finished: false };
  if (!$("lobby").hidden) showHomework();
}

function askNext() {
  $("next-question").hidden = true;
  if (!connection.send({ type: "next" })) say(errorText({ code: "connection_lost" }));
}

/** Homework: after a reveal, the student moves on when ready (the last one: results follow). */
function offerNext() {
  if (!state.progress || !state.question) return;
  const last = state.question.index + 1 >= state.question.count;
  $("next-question").hidden = last;
}

$("homework-start").addEventListener("click", askNext);
$("next-question").addEventListener("click", askNext);

function openQuestion(q, serverTimeMs, chosen = null) {
  const fresh = !state.question || state.question.index !== q.index;
  state.question = q;
  if (fresh) { state.chosen = chosen; state.answer = null; state.pending = null; }
  show("question");
  $("question-number").textContent = `Question ${q.index + 1} of ${q.count}`;
  $("prompt").textContent = q.prompt;
  showListening(q, fresh);
  optionButtons.forEach((button, i) => {
    button.hidden = i >= q.options.length;
    button.querySelector(".text").textContent = q.options[i] ?? "";
    button.classList.remove("chosen", "correct", "wrong");
    button.disabled = !q.open;
    button.removeAttribute("aria-pressed");
  });
  $("locked").hidden = true;
  $("result").hidden = true;
  $("reveal").hidden = true;
  $("next-question").hidden = true;
  if (fresh) {
    state.rankAtOpen = state.score > 0 ? state.rank : null;
    $("place").hidden = true;
    $("streak").hidden = true;
    $("flag-box").hidden = true;
    delete $("flag-box").dataset.index;
    $("note").textContent = state.note;
    $("note").hidden = !state.note;
    state.note = "";
  }
  if (q.open) countdown.start(q, serverTimeMs);
  else countdown.stop();
  showBetween(!q.open, q.next_in_ms);
  markChosen();
  // A new question starts at the top of the page, its prompt and timer in view, whatever the
  // student had scrolled to at the last reveal.
  if (fresh) window.scrollTo(0, 0);
  const reading = q.open && q.options.length === 0 && q.options_at_ms != null;
  $("reading").hidden = !reading;
  if (fresh && q.open) {
    // A screen reader hears the question, not just "A"; Tab then goes to the answers, and
    // the keys 1–4 (or A–D) answer from anywhere.
    $("prompt").focus({ preventScroll: true });
    announce(reading
      ? `Question ${q.index + 1} of ${q.count}. ${q.prompt} Read it: the answers come in a moment.`
      : `Question ${q.index + 1} of ${q.count}. ${q.prompt} ${answersText(q)}`);
  }
}

function answersText(q) {
  return `${q.options.length} answers: ${q.options.map((o, i) => `${"ABCDEF"[i]}, ${o}`).join("; ")}.`;
}

/** The reading time is over (setting reading_ms): the options show, and the clock runs. */
function onOptions(frame) {
  const q = state.question;
  if (!q || frame.index !== q.index || !q.open) return;
  // remaining_ms was measured when the question came: the deadline is counted afresh
  const shown = { ...q, options: frame.options, order: frame.order, remaining_ms: undefined };
  delete shown.options_at_ms;
  openQuestion(shown, frame.server_time_ms, state.chosen);
  announce(answersText(shown));
}

/** A listening question: the word is spoken (the server's audio, once the question is asked),
 * once as it opens and again at each tap of the button. */
function showListening(q, fresh) {
  const audio = $("listen-audio");
  const listening = q.kind === "listening";
  $("listen").hidden = !listening;
  if (!listening) {
    audio.pause();
    audio.removeAttribute("src");
    return;
  }
  const src = `/api/quizzes/${state.quizId}/audio/${q.index}`;
  if (fresh || !audio.src.endsWith(src)) audio.src = src;
  if (fresh && q.open) audio.play().catch(() => {}); // a browser may wait for a tap: the button
}

$("listen-button").addEventListener("click", () => {
  const audio = $("listen-audio");
  audio.currentTime = 0;
  audio.play().catch(() => say("The word cannot be played right now; try again."));
});

let stopMovingOn = () => {};

/** Between questions: no frozen "0", but what comes next. */
function showBetween(closed, nextInMs = null) {
  stopMovingOn();
  $("countdown").hidden = closed;
  $("between").hidden = !closed;
  if (!closed || !state.question) return;
  if (nextInMs != null && !state.progress) { // the quiz moves on by itself: count it down
    stopMovingOn = nextCountdown($("between"), nextInMs, state.question);
    return;
  }
  const last = state.question.index + 1 >= state.question.count;
  $("between").textContent = state.progress ? "Closed" : last ? "Last question: results next" : "Next question soon";
}

/** Where the question's option `option` is on this phone: with the setting shuffle_options each
 * player sees the options in an order of their own (`order[place]` is the question's option in
 * that place); answers, reveals and counts always use the question's own order. */
function placeOf(option) {
  const order = state.question?.order;
  return order ? order.indexOf(option) : option;
}

function markChosen() {
  if (state.chosen === null) return;
  const place = placeOf(state.chosen);
  optionButtons.forEach((button, i) => {
    button.disabled = true;
    button.classList.toggle("chosen", i === place);
    if (i === place) button.setAttribute("aria-pressed", "true");
  });
  // "locked in" only once the server has it: an answer tapped offline is still on its way
  $("locked").textContent = state.pending ? "Sending your answer…" : "Answer locked in";
  $("locked").hidden = !state.question?.open;
}

function choose(place) {
  const q = state.question;
  if (!q || !q.open || state.chosen !== null || place >= q.options.length) return;
  const option = q.order ? q.order[place] : place;
  state.chosen = option;
  state.pending = { q: q.index, option };
  markChosen();
  // The buttons are disabled now: focus (and a screen reader) goes to what happened, and the
  // page shows it at the top, with the timer, not the option tapped far down a small phone.
  $("locked").focus({ preventScroll: true });
  window.scrollTo(0, 0);
  connection.send({ type: "answer", q: q.index, option }); // if down: resent after the welcome
}

optionButtons.forEach((button) => button.addEventListener("click", () => choose(Number(button.dataset.option))));
document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.target instanceof HTMLInputElement) return;
  const option = KEYS[event.key.toLowerCase()];
  if (option !== undefined && !$("question").hidden) { event.preventDefault(); choose(option); }
});

function onAck(frame) {
  if (!state.question || frame.q !== state.question.index) return;
  state.pending = null;
  state.chosen = frame.answer.option;
  markChosen();
  if (frame.status === "already_answered" && frame.message) say(frame.message);
  if (frame.answer.revealed) showAnswer(frame.answer, true, frame.standing);
  else setStanding(frame.standing);
}

function showAnswer(answer, speak, standing = null) {
  state.answer = answer;
  if (standing) setStanding(standing);
  const text = answer.correct ? `Right! +${formatNumber(answer.points)} points` : "Wrong. +0 points";
  $("result").textContent = text;
  $("result").className = `result ${answer.correct ? "is-right" : "is-wrong"}`;
  $("result").hidden = false;
  // the streak the server counts (its bonus is in the points): worth showing from two on
  $("streak").textContent = answer.streak >= 2 ? `🔥 ${answer.streak} in a row` : "";
  $("streak").hidden = !(answer.streak >= 2);
  if (speak && state.announced !== answer.index) {
    state.announced = answer.index;
    announce(`${answer.correct ? `Right! +${formatNumber(answer.points)} points.` : "Wrong, no points."} ${rankSentence()}`);
  }
}

function rankSentence() {
  return rankText() === "–" ? "" : `You are ${ordinal(state.rank)} of ${state.players}.`;
}

/** What a student who did not answer reads at the reveal, by why the question closed. */
const NO_ANSWER = {
  time: "Time's up – no answer. +0 points",
  host: "The host closed this question – no answer. +0 points",
  skip: "The host skipped this question: it does not count.",
  end: "The quiz was ended – no answer. +0 points",
};

function reveal(info, reason = "time") {
  const correct = placeOf(info.correct_option);
  const chosen = state.chosen === null ? null : placeOf(state.chosen);
  optionButtons.forEach((button, i) => {
    button.disabled = true;
    button.classList.toggle("correct", i === correct);
    button.classList.toggle("wrong", i === chosen && i !== correct);
  });
  $("locked").hidden = true;
  $("reveal").textContent = describeReveal(info);
  $("reveal").hidden = false;
  if (document.activeElement === $("locked") || document.activeElement === document.body) {
    $("result").focus({ preventScroll: true }); // not lost with the hidden "locked in"
  }
  state.revealed = `The answer: ${"ABCDEF"[correct]}, ${state.question.options[correct]}.`;
  offerFlag(state.question.index);
  if (reason === "skip") {
    // whatever was answered is taken back: nobody gains or loses by a skipped question
    $("result").textContent = NO_ANSWER.skip;
    $("result").className = "result is-void";
    $("result").hidden = false;
    state.note = `Question ${state.question.index + 1} was skipped by the host: it does not count.`;
  } else if (state.chosen === null) {
    $("result").textContent = NO_ANSWER[reason] || NO_ANSWER.time;
    $("result").className = "result is-wrong";
    $("result").hidden = false;
  }
}

/** A flag on question `index` of this quiz, sent with the player's token. */
function sendFlag(index, reason) {
  return api(`/api/quizzes/${state.quizId}/flags`, {
    method: "POST", token: state.token, json: reason ? { index, reason } : { index },
  });
}

function offerFlag(index) {
  const box = $("flag-box");
  if (box.dataset.index === String(index)) { box.hidden = false; return; } // keep what was typed
  box.dataset.index = String(index);
  flagControl(box, `question ${index + 1}`, (reason) => sendFlag(index, reason));
  box.hidden = false;
}

function onClosed(frame) {
  if (!state.question || frame.index !== state.question.index) return;
  state.closeReason = frame.reason;
  state.question = { ...state.question, open: false };
  countdown.stop();
  $("timebar-fill").style.width = "0%";
  showBetween(true, frame.next_in_ms);
  reveal(frame.reveal, frame.reason);
  if (state.progress) {
    state.progress = { ...state.progress, done: frame.index + 1 };
    offerNext();
  }
}

/** After a question: where the student stands, whether they moved up, and who is next above. */
function placeText(frame) {
  const rank = frame.standing?.rank;
  if (!rank || state.score <= 0) return "";
  const movedUp = state.rankAtOpen && rank < state.rankAtOpen;
  let text;
  if (!frame.ahead) {
    text = state.players < 2 ? "" : `${movedUp ? "You moved up to" : "You're"} 1st of ${state.players}: in the lead!`;
  }
  else if (movedUp) text = `You moved up to ${ordinal(rank)}!`;
  else text = `You're ${ordinal(rank)} of ${state.players}.`;
  if (frame.ahead) {
    const gap = frame.ahead.score - state.score;
    text += ` ${formatNumber(gap)} point${gap === 1 ? "" : "s"} behind ${frame.ahead.nickname}.`;
  }
  return text.trim();
}

function onResult(frame) {
  setStanding(frame.standing);
  const place = placeText(frame);
  $("place").textContent = place;
  $("place").hidden = !place;
  if (state.closeReason === "skip") {
    if (state.announced !== frame.index) {
      state.announced = frame.index;
      announce(`The host skipped this question: it does not count. ${rankSentence()}`);
    }
  } else if (frame.answer && frame.answer.revealed) {
    state.chosen = frame.answer.option;
    showAnswer(frame.answer, false);
    const said = frame.answer.correct ? `Right! +${formatNumber(frame.answer.points)} points.` : `Wrong. ${state.revealed || ""}`;
    announce(`${said} ${place || rankSentence()}`);
    state.announced = frame.index;
  } else {
    state.announced = frame.index;
    announce(`No answer this time. ${state.revealed || ""} ${place || rankSentence()}`);
  }
}

function onBoard(board) {
  state.lastBoard = board;
  state.players = board.players;
  $("my-rank").textContent = rankText();
  renderBoard($("leaderboard"), board.top, { meId: state.me });
  $("teams-title").hidden = !board.teams;
  $("teams").hidden = !board.teams;
  if (board.teams) {
    renderTeams($("teams"), board.teams, state.team ?? null);
    if (state.team !== undefined && state.team !== null) drawTeam(null);
  }
  if (!board.top.some((line) => line.player_id === state.me) && state.rank) {
    const li = el("li", "me");
    li.append(el("span", "rank", state.rank), el("span", "nickname", state.nickname), el("span", "score", $("my-score").textContent));
    $("leaderboard").append(li);
  }
  if (!$("question").hidden || !$("finished").hidden) $("board-section").hidden = false;
}

function onFinished() {
  state.finished = true;
  $("next-question").hidden = true;
  countdown.stop();
  show("finished");
  $("board-section").hidden = false;
  const top = (state.lastBoard?.top || []).slice(0, 3);
  const podium = top.map((line) => {
    const li = el("li");
    if (line.player_id === state.me) li.classList.add("me");
    li.append(el("span", "rank", ordinal(line.rank)), el("span", "nickname", line.nickname), el("span", "score", formatNumber(line.score)));
    return li;
  });
  $("podium").replaceChildren(...podium);
  $("podium-title").hidden = podium.length === 0;
}

function onFinal(results) {
  if (state.progress && !state.finished) return onHomeworkDone(results);
  connection?.stop();
  $("connection").hidden = true;
  $("my-score").textContent = formatNumber(results.score);
  state.rank = results.rank;
  state.players = results.players;
  $("my-rank").textContent = `#${results.rank} of ${results.players}`;
  $("final-summary").textContent = `You scored ${formatNumber(results.score)} points and finished ${ordinal(results.rank)} of ${results.players}, with ${results.correct} of ${results.answered} answers right.`;
  const won = results.rank === 1 && results.players > 1 && results.score > 0;
  $("finished-title").textContent = won ? "You won! 🏆" : "Quiz over";
  document.body.classList.toggle("winner", won);
  drawReview(results.missed || []);
  announce(`${won ? "You won!" : "Quiz over."} You finished ${ordinal(results.rank)} of ${results.players} with ${formatNumber(results.score)} points.`);
}

/** Homework: every question done before the due time; the place is final only then. */
function onHomeworkDone(results) {
  state.progress = { ...state.progress, finished: true };
  show("finished");
  $("finished-title").textContent = "Homework done";
  $("final-summary").textContent = `You scored ${formatNumber(results.score)} points, with ${results.correct} of ${state.progress.count} answers right. You are ${ordinal(results.rank)} of ${results.players} so far; places are final when the homework is due (${dueText()}).`;
  $("podium").replaceChildren();
  $("podium-title").hidden = true; // ranks are not final before the due time
  drawReview(results.missed || []);
  announce(`Homework done: ${formatNumber(results.score)} points, ${results.correct} of ${state.progress.count} right.`);
}

function drawReview(missed) {
  $("review").replaceChildren(...missed.map((word) => {
    const li = el("li");
    li.dataset.index = String(word.index);
    li.append(el("span", "word", word.word), el("span", "definition", word.definition), el("span", "example", word.example || ""));
    const box = el("div", "flag-box");
    flagControl(box, `the question on '${word.word}'`, (reason) => sendFlag(word.index, reason));
    li.append(box);
    return li;
  }));
  $("review-empty").hidden = missed.length > 0;
  $("practise").hidden = missed.length === 0;
}

/** The missed words as a file, with the player's token. */
async function downloadWords(format) {
  const path = `/api/quizzes/${state.quizId}/words?format=${format}`;
  if (!(await download(path, state.token, `livequiz-words-${state.pin}.${format}`))) {
    say("Could not download your words; try again.");
  }
}

$("download-anki").addEventListener("click", () => downloadWords("apkg"));
$("download-words-csv").addEventListener("click", () => downloadWords("csv"));

async function loadResults() {
  const { ok, data } = await api(`/api/quizzes/${state.quizId}/results`, { token: state.token });
  if (ok) onFinal(data);
}

function onError(frame) {
  if (frame.q !== undefined) {
    if (state.pending && state.pending.q === frame.q) state.pending = null;
    say(errorText(frame));
    return;
  }
  if (["bad_token", "unknown_quiz", "kicked"].includes(frame.code)) return; // the close follows
  say(errorText(frame));
}

// ------------------------------------------------------------------ resume after a refresh

// The learning app links its signed-in users here with its token in the fragment
// (/play?pin=…#app_token=…): a fragment never reaches a server log, and it is removed from the
// address (and the history) at once.
const appToken = new URLSearchParams(location.hash.slice(1)).get("app_token");
if (appToken) history.replaceState(null, "", `/play${pinParam ? `?pin=${pinParam}` : ""}`);

async function joinAsAppUser(pin, token) {
  show("join-section");
  $("join-button").disabled = true;
  say("Signing you in…");
  const { ok, data } = await api(`/api/quizzes/${pin}/players`, { method: "POST", json: { app_token: token } });
  $("join-button").disabled = false;
  if (!ok) { say(errorText(data.error)); return; }
  say("");
  localStorage.setItem(storageKey(pin), JSON.stringify({ token: data.token, nickname: data.nickname }));
  connect(pin, data.token, data.nickname);
}

if (pinParam && appToken) {
  joinAsAppUser(pinParam, appToken);
} else if (pinParam) {
  let saved = null;
  try { saved = JSON.parse(localStorage.getItem(storageKey(pinParam)) || "null"); } catch { saved = null; }
  if (saved && saved.token) connect(pinParam, saved.token, saved.nickname || "");
  else show("join-section");
} else {
  show("join-section");
}
