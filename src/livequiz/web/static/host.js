// The host page: create a quiz, show how to join, watch the players, run the questions.
import {
  Connection, Countdown, api, describeReveal, el, errorText, renderBoard, renderOptions,
} from "./connection.js";

const $ = (id) => document.getElementById(id);
const STORE = "livequiz.host";
let session = null; // {quiz_id, pin, host_token}
let connection = null;
const players = new Map(); // player_id → {nickname, present}
let phase = "lobby";
let locked = false;
let question = null;
const countdown = new Countdown((left) => { $("host-countdown").textContent = String(Math.ceil(left / 1000)); });

const say = (text) => { $("message").textContent = text || ""; };

// ------------------------------------------------------------------ creating

$("create-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  say("");
  const count = Number($("count").value);
  const seconds = Number($("seconds").value);
  if (!Number.isInteger(count) || count < 1 || count > 100) { say("Questions: a whole number from 1 to 100."); $("count").focus(); return; }
  if (!Number.isInteger(seconds) || seconds < 5 || seconds > 600) { say("Seconds per question: a whole number from 5 to 600."); $("seconds").focus(); return; }
  const form = new FormData();
  form.append("count", String(count));
  form.append("time_limit_s", String(seconds));
  const levels = [...document.querySelectorAll('input[name="level"]:checked')].map((i) => i.value);
  const kinds = [...document.querySelectorAll('input[name="kind"]:checked')].map((i) => i.value);
  const file = $("words-file").files[0];
  // An own word list is the teacher's choice of words: the level boxes filter the built-in deck.
  if (levels.length && !file) form.append("levels", levels.join(","));
  if (kinds.length) form.append("kinds", kinds.join(","));
  if (file) form.append("words", file, file.name);
  $("create-button").disabled = true;
  const { ok, data } = await api("/api/quizzes", { method: "POST", form });
  $("create-button").disabled = false;
  if (!ok) {
    if (data.error?.code === "bad_word_list") sayWordListErrors(data.error);
    else say(errorText(data.error));
    return;
  }
  session = { quiz_id: data.quiz_id, pin: data.pin, host_token: data.host_token };
  sessionStorage.setItem(STORE, JSON.stringify(session));
  begin();
});

// Every mistake of the list at once, each with its line, so one upload is enough to fix them.
function sayWordListErrors(error) {
  const problems = Array.isArray(error.errors) ? error.errors : [];
  const total = Number.isInteger(error.error_count) ? error.error_count : problems.length;
  if (total <= 1 || !problems.length) { say(`Word list: ${error.message}`); return; }
  const where = (p) => [p.line != null ? `line ${p.line}` : "", p.item != null ? `(item ${p.item})` : ""].filter(Boolean).join(" ");
  const list = el("ul", "word-list-errors");
  list.id = "word-list-errors";
  for (const problem of problems) {
    const at = where(problem);
    list.append(el("li", "", at ? `${at}: ${problem.message}` : problem.message));
  }
  if (total > problems.length) list.append(el("li", "more", `… and ${total - problems.length} more`));
  const box = $("message");
  box.replaceChildren(el("p", "", `Word list: ${total} problems to fix:`), list);
}

function begin() {
  $("create-section").hidden = true;
  $("host-section").hidden = false;
  const joinUrl = `${location.origin}/play?pin=${session.pin}`;
  $("pin-display").textContent = session.pin;
  $("join-link").href = `/play?pin=${session.pin}`;
  $("join-link").textContent = joinUrl;
  $("qr").src = `/api/quizzes/${session.pin}/qr.svg`;
  $("screen-link").href = `/screen#token=${encodeURIComponent(session.host_token)}`;
  updateControls();
  connection = new Connection(session.host_token, {
    onFrame,
    onStatus: (status) => { $("connection").hidden = status !== "reconnecting"; },
    onGone: () => { say("This quiz is not on the server any more."); sessionStorage.removeItem(STORE); },
  });
  connection.start();
}

// ------------------------------------------------------------------ controls

function command(action, extra = {}) {
  say("");
  if (!connection.send({ type: "host", action, ...extra })) say("Not connected right now; try again in a moment.");
}

$("start-button").addEventListener("click", () => command("start"));
$("close-button").addEventListener("click", () => command("close"));
$("next-button").addEventListener("click", () => command("next"));
$("skip-button").addEventListener("click", () => command("skip"));
$("end-button").addEventListener("click", () => command("end"));
$("lock-button").addEventListener("click", () => command(locked ? "unlock" : "lock"));
$("players").addEventListener("click", (event) => {
  const button = event.target.closest("button.kick");
  if (button) command("kick", { player_id: Number(button.closest("li").dataset.playerId) });
});
$("new-quiz").addEventListener("click", () => {
  connection?.stop();
  sessionStorage.removeItem(STORE);
  location.reload();
});
$("download-csv").addEventListener("click", async () => {
  const response = await fetch(`/api/quizzes/${session.quiz_id}/results?format=csv`, {
    headers: { authorization: `Bearer ${session.host_token}` },
  }).catch(() => null);
  if (!response || !response.ok) { say("Could not download the results."); return; }
  const url = URL.createObjectURL(await response.blob());
  const link = el("a");
  link.href = url;
  link.download = `quiz-${session.pin}-results.csv`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
});

function updateControls() {
  const open = phase === "question_open";
  $("start-button").hidden = phase !== "lobby";
  $("close-button").hidden = !open;
  $("skip-button").hidden = !open;
  $("next-button").hidden = phase !== "question_closed";
  const last = question && question.index + 1 >= question.count;
  $("next-button").textContent = last ? "Finish quiz" : "Next question";
  $("end-button").hidden = phase === "finished";
  $("lock-button").hidden = phase === "finished";
  $("lock-button").textContent = locked ? "Unlock joining" : "Lock joining";
  $("lock-button").setAttribute("aria-pressed", String(locked));
  $("start-button").disabled = players.size === 0;
}

// ------------------------------------------------------------------ players

function drawPlayers() {
  const items = [...players.entries()].map(([id, p]) => {
    const li = el("li");
    li.dataset.playerId = String(id);
    if (!p.present) li.classList.add("away");
    li.append(el("span", "nickname", p.nickname));
    if (!p.present) li.append(el("span", "muted", " (away)"));
    const kick = el("button", "kick", "Remove");
    kick.type = "button";
    kick.setAttribute("aria-label", `Remove ${p.nickname}`);
    li.append(kick);
    return li;
  });
  $("players").replaceChildren(...items);
  const n = players.size;
  $("player-count").textContent = `${n} player${n === 1 ? "" : "s"}`;
  updateControls();
}

// ------------------------------------------------------------------ frames

function onFrame(frame) {
  switch (frame.type) {
    case "welcome":
    case "snapshot": return drawSnapshot(frame);
    case "players": return onPlayers(frame);
    case "question": return openQuestion(frame.question, frame.server_time_ms);
    case "closed": return onClosed(frame);
    case "board": return onBoard(frame);
    case "lock": locked = frame.locked; return updateControls();
    case "finished": phase = "finished"; countdown.stop(); return updateControls();
    case "final": return onFinal(frame.results);
    case "error": return say(errorText(frame));
    default: return undefined;
  }
}

function drawSnapshot(frame) {
  const s = frame.state;
  phase = s.phase;
  locked = s.locked;
  players.clear();
  for (const p of s.players) players.set(p.player_id, { nickname: p.nickname, present: p.present });
  drawPlayers();
  if (s.leaderboard) onBoard(s.leaderboard);
  if (s.question) {
    openQuestion(s.question, frame.server_time_ms);
    if (!s.question.open && s.question.reveal) onClosed({ reveal: s.question.reveal, option_counts: null });
    setAnswered(s.answered, s.leaderboard?.players ?? players.size);
  }
  phase = s.phase;
  updateControls();
}

function onPlayers(frame) {
  for (const p of frame.joined) players.set(p.player_id, { nickname: p.nickname, present: true });
  // back, left and kicked are lists of player ids (docs/protocol.md, "players")
  for (const id of frame.back) if (players.has(id)) players.get(id).present = true;
  for (const id of frame.left) if (players.has(id)) players.get(id).present = false;
  for (const id of frame.kicked) players.delete(id);
  drawPlayers();
}

function openQuestion(q, serverTimeMs) {
  question = q;
  phase = q.open ? "question_open" : "question_closed";
  $("host-question").hidden = false;
  $("host-question-number").textContent = `Question ${q.index + 1} of ${q.count}`;
  $("host-prompt").textContent = q.prompt;
  renderOptions($("host-options"), q.options);
  $("host-reveal").hidden = true;
  if (q.open) countdown.start(q, serverTimeMs);
  else { countdown.stop(); $("host-countdown").textContent = "0"; }
  setAnswered(0, players.size);
  updateControls();
}

function onClosed(frame) {
  phase = "question_closed";
  countdown.stop();
  $("host-countdown").textContent = "0";
  if (question) renderOptions($("host-options"), question.options, frame.reveal.correct_option, frame.option_counts);
  $("host-reveal").textContent = describeReveal(frame.reveal);
  $("host-reveal").hidden = false;
  if (frame.option_counts) setAnswered(frame.option_counts.reduce((a, b) => a + b, 0), players.size);
  updateControls();
}

function setAnswered(answered, total) {
  $("answered-count").textContent = `${answered ?? 0} of ${total} answered`;
}

function onBoard(board) {
  renderBoard($("host-leaderboard"), board.top);
  if (board.answered !== null && board.answered !== undefined) setAnswered(board.answered, board.players);
}

function onFinal(report) {
  const lines = report.players.map((p) => ({ ...p }));
  renderBoard($("host-leaderboard"), lines);
  say("");
  $("host-question-number").textContent = "Quiz over";
  $("answered-count").textContent = `${lines.length} players · download the results below`;
  connection.stop();
  updateControls();
}

// ------------------------------------------------------------------ resume after a refresh

try { session = JSON.parse(sessionStorage.getItem(STORE) || "null"); } catch { session = null; }
if (session && session.host_token) begin();
