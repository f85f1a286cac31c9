// The big screen: the join code, the current question and the live leaderboard, for a projector.
// It reads the host token from the URL fragment (#token=…; never sent to any server), keeps it
// in this tab's sessionStorage and removes it from the address bar before the room sees it.
import {
  Connection, Countdown, api, describeReveal, el, errorText, formatNumber, nextCountdown, ordinal,
  pauseClock, renderBoard, renderOptions, renderTeams,
  contrastToggle,
} from "./connection.js";

const $ = (id) => document.getElementById(id);
contrastToggle($("contrast"));
const STORE = "livequiz.screen";
// Rank changes are shown once a question has closed, against the ranks when it opened: while it
// is open, a student who has not answered yet only seems to drop as others answer (issue 18).
let ranks = new Map(); // player_id → rank on the newest board
let ranksAtOpen = null; // player_id → rank when the current question opened
let question = null;
let quizId = null;
const countdown = new Countdown((left) => { $("screen-countdown").textContent = String(Math.ceil(left / 1000)); });

const fragment = new URLSearchParams(location.hash.slice(1));
let token = fragment.get("token");
if (token) {
  sessionStorage.setItem(STORE, token);
  history.replaceState(null, "", location.pathname);
} else {
  token = sessionStorage.getItem(STORE);
}

if (!token) {
  $("message").textContent = "Open the big screen from the host page (its link carries the host's key).";
} else {
  const connection = new Connection(token, {
    onFrame,
    onStatus: (status) => { $("connection").hidden = status !== "reconnecting"; },
    onGone: (code) => { $("message").textContent = errorText({ code: code === 4004 ? "unknown_quiz" : "bad_token" }); },
  });
  connection.start();
}

/** The address as phones in the room type it (the LAN address, not this page's 127.0.0.1). */
async function showJoinLink(pin) {
  const { ok, data } = await api(`/api/quizzes/${pin}/join`);
  if (ok) $("screen-join-url").textContent = data.join_url.replace(/^https?:\/\//, "");
}

function onFrame(frame) {
  switch (frame.type) {
    case "welcome":
    case "snapshot": return drawSnapshot(frame);
    case "question": return openQuestion(frame.question, frame.server_time_ms);
    // the reading time is over: the options show (the deadline is counted afresh)
    case "options": return question && frame.index === question.index
      ? openQuestion({ ...question, options: frame.options, remaining_ms: undefined }, frame.server_time_ms)
      : undefined;
    case "closed": return onClosed(frame);
    case "paused":
    case "resumed": return pauseClock(countdown, $("screen-countdown"), frame, question);
    case "board": return onBoard(frame);
    case "final": return onFinal(frame.results);
    case "players": return onPlayers(frame);
    case "lock": document.body.dataset.locked = String(frame.locked); return undefined;
    case "error":
      if (frame.action === undefined) $("message").textContent = errorText(frame);
      return undefined;
    default: return undefined;
  }
}

function drawSnapshot(frame) {
  if (frame.type === "welcome" && frame.role !== "host") {
    $("message").textContent = "The big screen needs the host's link.";
    return;
  }
  const s = frame.state;
  quizId = frame.quiz.quiz_id;
  if (s.phase === "finished") {
    // Reloaded after the end: the PIN is free again (no join code, no QR), the podium is back.
    $("screen-pin").hidden = true;
    if (s.leaderboard) onBoard(s.leaderboard);
    loadFinal();
    return;
  }
  document.body.dataset.locked = String(Boolean(s.locked));
  names.clear();
  // a name the host has not approved yet is shown nowhere (approve_names)
  for (const p of s.players || []) if (p.approved !== false) names.set(p.player_id, p.nickname);
  drawNames();
  const pin = frame.quiz.pin;
  $("screen-pin-number").textContent = pin;
  $("screen-join-url").textContent = `${location.host}/play?pin=${pin}`;
  showJoinLink(pin);
  $("screen-qr").src = `/api/quizzes/${pin}/qr.svg`;
  $("screen-qr").hidden = false;
  if (s.leaderboard) onBoard(s.leaderboard);
  if (s.question) {
    openQuestion(s.question, frame.server_time_ms);
    if (!s.question.open && s.question.reveal) onClosed({ reveal: s.question.reveal, option_counts: null });
  }
  document.body.dataset.phase = s.phase;
}

// Everyone in the lobby, not only the board's top ten: each phone says "see your nickname on
// the big screen".
const names = new Map(); // player_id → nickname

function onPlayers(frame) {
  for (const p of frame.joined) if (p.approved !== false) names.set(p.player_id, p.nickname);
  for (const p of frame.named ?? []) names.set(p.player_id, p.nickname);
  for (const id of frame.kicked) names.delete(id);
  drawNames();
}

function drawNames() {
  const items = [...names.values()].map((nickname) => el("li", null, nickname));
  $("screen-lobby-names").replaceChildren(...items);
  $("screen-lobby-count").textContent = `· ${names.size} player${names.size === 1 ? "" : "s"}`;
}

/** auto_advance: "Next question in 5" (or "Results in 5" after the last) until it opens. */
const movingOn = (ms, q) => stopMovingOn = nextCountdown($("screen-next"), ms, q);
let stopMovingOn = () => {};

/** A listening question: the room hears the word from the projector's speakers as it opens
 * (if the browser lets a page play sound by itself), and at each click of the button. */
function showListening(q, fresh) {
  const audio = $("screen-audio");
  const listening = q.kind === "listening";
  $("screen-listen").hidden = !listening;
  if (!listening) { audio.pause(); audio.removeAttribute("src"); return; }
  if (fresh) audio.src = `/api/quizzes/${quizId}/audio/${q.index}`;
  if (fresh && q.open) audio.play().catch(() => {});
}

$("screen-listen-button").addEventListener("click", () => {
  const audio = $("screen-audio");
  audio.currentTime = 0;
  audio.play().catch(() => {});
});

function openQuestion(q, serverTimeMs) {
  stopMovingOn();
  const fresh = !question || question.index !== q.index;
  if (fresh) ranksAtOpen = ranks;
  question = q;
  document.body.dataset.phase = q.open ? "question_open" : "question_closed";
  $("screen-question").hidden = false;
  $("screen-question-number").textContent = `Question ${q.index + 1} of ${q.count}`;
  $("screen-prompt").textContent = q.prompt;
  showListening(q, fresh);
  renderOptions($("screen-options"), q.options);
  $("screen-reveal").hidden = true;
  $("screen-answered").textContent = "";
  if (q.open) countdown.start(q, serverTimeMs);
  else { countdown.stop(); $("screen-countdown").textContent = "0"; }
  if (q.open && q.paused) pauseClock(countdown, $("screen-countdown"), { type: "paused", index: q.index }, q);
  if (!q.open && q.next_in_ms != null) movingOn(q.next_in_ms, q);
}

function onClosed(frame) {
  document.body.dataset.phase = "question_closed";
  countdown.stop();
  $("screen-countdown").textContent = "0";
  movingOn(frame.next_in_ms, question);
  if (question) renderOptions($("screen-options"), question.options, frame.reveal.correct_option, frame.option_counts);
  $("screen-reveal").textContent = describeReveal(frame.reveal);
  $("screen-reveal").hidden = false;
  // The last answer may close the question before a board frame carries it.
  const answered = frame.option_counts.reduce((sum, count) => sum + count, 0);
  const shown = $("screen-answered").textContent.match(/of (\d+) answered/);
  if (shown) $("screen-answered").textContent = `${answered} of ${shown[1]} answered`;
}

function onBoard(board) {
  const closed = document.body.dataset.phase === "question_closed";
  renderBoard($("screen-leaderboard"), board.top, { previous: closed ? ranksAtOpen : null });
  showTeams(board.teams);
  ranks = new Map(board.top.map((line) => [line.player_id, line.rank]));
  $("screen-players").textContent = `· ${board.players} player${board.players === 1 ? "" : "s"}`;
  if (board.answered !== null && board.answered !== undefined) {
    $("screen-answered").textContent = `${board.answered} of ${board.players} answered`;
  }
}

/** With teams: the team board under the players' (averages, best first). */
function showTeams(teams) {
  $("screen-teams-title").hidden = !teams;
  $("screen-teams").hidden = !teams;
  if (teams) renderTeams($("screen-teams"), teams);
}

async function loadFinal() {
  const { ok, data } = await api(`/api/quizzes/${quizId}/results`, { token });
  if (ok) onFinal(data, false);
}

/** Between two places of the podium as it is revealed, third place first. */
const PODIUM_STEP_MS = 1500;

function onFinal(report, staged = true) {
  document.body.dataset.phase = "finished";
  $("screen-question").hidden = true;
  $("screen-pin").hidden = true; // the quiz is over: its code joins nothing any more
  const top = report.players.slice(0, 3).map((p) => {
    const li = el("li");
    li.append(el("span", "rank", ordinal(p.rank)), el("span", "nickname", p.nickname), el("span", "score", formatNumber(p.score)));
    return li;
  });
  $("screen-podium").replaceChildren(...top);
  $("screen-podium-section").hidden = false;
  if (report.teams) { // the winning team, beside the podium
    showTeams(report.teams);
    const winners = report.teams.filter((line) => line.rank === 1).map((line) => line.name);
    $("screen-podium-title").textContent = `Podium · ${winners.join(" and ")} win${winners.length === 1 ? "s" : ""}`;
  }
  if (!staged) return; // a reload after the end: the whole podium at once
  // The moment the class waits for: third, then second, then the winner.
  top.forEach((li) => { li.hidden = true; });
  [...top].reverse().forEach((li, i) => {
    setTimeout(() => { li.hidden = false; li.classList.add("arrive"); }, PODIUM_STEP_MS * i);
  });
}
