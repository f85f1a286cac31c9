// The host page: create a quiz, show how to join, watch the players, run the questions.
import {
  Connection, Countdown, KIND_NAMES, LETTERS, api, describeReveal, download, el, errorText,
  flagControl, pauseClock, renderBoard, renderOptions, renderTeams, TEAM_NAMES, TEAM_SHAPES,
  contrastToggle,
} from "./connection.js";

const $ = (id) => document.getElementById(id);
contrastToggle($("contrast"));
const STORE = "livequiz.host";
// The last host token of this browser: a teacher's key to the server's flag list (24 hours).
const TEACHER = "livequiz.teacher";
let session = null; // {quiz_id, pin, host_token}
let connection = null;
const players = new Map(); // player_id → {nickname, present, answered, progress}
let phase = "lobby";
let locked = false;
let question = null;
let teamCount = 0; // the quiz's teams (setting `teams`; 0: none)
let dueAtMs = null; // a self-paced quiz's due time (homework); null for a live quiz
let syncTimer = null;
const WAITING_SHOWN = 30; // names listed as "not answered yet" before "and N more"
const countdown = new Countdown((left) => { $("host-countdown").textContent = String(Math.ceil(left / 1000)); });

const say = (text) => { $("message").textContent = text || ""; };

// ------------------------------------------------------------------ creating

/** The form's options, checked; null (and the reason said) if a value is out of range. */
async function readOptions() {
  const count = Number($("count").value);
  const seconds = Number($("seconds").value);
  if (!Number.isInteger(count) || count < 1 || count > 100) { say("Questions: a whole number from 1 to 100."); $("count").focus(); return null; }
  if (!Number.isInteger(seconds) || seconds < 5 || seconds > 600) { say("Seconds per question: a whole number from 5 to 600."); $("seconds").focus(); return null; }
  const levels = [...document.querySelectorAll('input[name="level"]:checked')].map((i) => i.value);
  const kinds = [...document.querySelectorAll('input[name="kind"]:checked')].map((i) => i.value);
  const file = $("words-file").files[0] || null;
  const kahoot = $("kahoot-file").files[0] || null;
  if (kahoot && file) { say("Choose a word list or a Kahoot! spreadsheet, not both."); return null; }
  let due = null;
  if (document.querySelector('input[name="pace"]:checked').value === "self") {
    due = $("due").value ? new Date($("due").value).getTime() : NaN;
    if (!Number.isFinite(due) || due < Date.now() + 60_000) { say("Due: a date and time at least a minute from now."); $("due").focus(); return null; }
  }
  return {
    count, seconds, levels, kinds, file, words: file ? await file.text() : null, due,
    settings: chosenSettings(due !== null), kahoot: kahoot ? await base64Of(kahoot) : null,
  };
}

/** A file's bytes as base64 (a spreadsheet travels in the JSON of a preview). */
async function base64Of(file) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

/** The options of the form as quiz settings (docs/protocol.md; the server checks them). */
function chosenSettings(homework) {
  const on = (name) => document.querySelector(`#options input[name="${name}"]`).checked;
  const points = Number($("points").value);
  const settings = {
    scoring: points === 0 ? "none" : on("speed") ? "speed" : "accuracy",
    streak_bonus: on("streak") && points > 0 ? 100 : 0,
    allow_late_join: on("late_join"),
    approve_names: on("approve_names"),
    shuffle_options: on("shuffle_options"),
  };
  if (points > 0) settings.base_points = points;
  if (homework) settings.pace = "self";
  else {
    Object.assign(settings, {
      reveal: on("reveal_now") ? "immediate" : "at_close",
      close_when_all_answered: on("close_all"),
      auto_advance_ms: Number($("auto-advance").value),
      reading_ms: Number($("reading-time").value),
      teams: Number($("teams").value),
      team_choice: Number($("teams").value) > 0 && on("team_choice"),
    });
  }
  return settings;
}

/** The due time a homework form starts with: this time tomorrow, on the hour. */
function defaultDue() {
  const due = new Date(Date.now() + 24 * 3600_000);
  due.setMinutes(0, 0, 0);
  const pad = (n) => String(n).padStart(2, "0");
  return `${due.getFullYear()}-${pad(due.getMonth() + 1)}-${pad(due.getDate())}T${pad(due.getHours())}:00`;
}

for (const radio of document.querySelectorAll('input[name="pace"]')) {
  radio.addEventListener("change", () => {
    const homework = radio.value === "self" && radio.checked;
    $("due-box").hidden = !homework;
    if (homework && !$("due").value) $("due").value = defaultDue();
    $("create-button").textContent = homework ? "Hand out homework" : "Create quiz";
  });
}

function showCreateError(error) {
  if (error?.code === "bad_word_list") {
    sayWordListErrors(error);
    // the preview makes questions from the good lines and lists the rest
    $("message").append(el("p", "", "Or preview the questions: the lines without mistakes make them, and the others are listed."));
  } else say(errorText(error));
}

function created(data) {
  session = { quiz_id: data.quiz_id, pin: data.pin, host_token: data.host_token };
  sessionStorage.setItem(STORE, JSON.stringify(session));
  localStorage.setItem(TEACHER, data.host_token);
  begin();
}

$("create-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  say("");
  const options = await readOptions();
  if (!options) return;
  // A teacher's own questions are always seen first: the preview, then "create".
  if (options.kahoot !== null) { $("preview-button").click(); return; }
  const form = new FormData();
  form.append("count", String(options.count));
  form.append("time_limit_s", String(options.seconds));
  // An own word list is the teacher's choice of words: the level boxes filter the built-in deck.
  if (options.levels.length && !options.file) form.append("levels", options.levels.join(","));
  if (options.kinds.length) form.append("kinds", options.kinds.join(","));
  if (options.file) form.append("words", options.file, options.file.name);
  form.append("settings", JSON.stringify(options.settings));
  if (options.due !== null) form.append("due_at_ms", String(options.due));
  $("create-button").disabled = true;
  const { ok, data } = await api("/api/quizzes", { method: "POST", form });
  $("create-button").disabled = false;
  if (!ok) { showCreateError(data.error); return; }
  created(data);
});

// ------------------------------------------------------------------ the preview (a draft)

let draft = null; // {questions: [...], words: text|null, seconds, editing: index|null}

$("preview-button").addEventListener("click", async () => {
  say("");
  const options = await readOptions();
  if (!options) return;
  const body = { count: options.count };
  if (options.kahoot !== null) body.kahoot = options.kahoot; // its questions, as written
  else {
    if (options.levels.length && !options.file) body.levels = options.levels;
    if (options.kinds.length) body.kinds = options.kinds;
    if (options.words !== null) body.words = options.words;
  }
  $("preview-button").disabled = true;
  const { ok, data } = await api("/api/drafts", { method: "POST", json: body });
  $("preview-button").disabled = false;
  if (!ok) { showCreateError(data.error); return; }
  draft = { questions: data.questions, words: options.words, seconds: options.seconds, due: options.due, settings: options.settings, editing: null };
  $("create-section").hidden = true;
  $("preview-section").hidden = false;
  drawLeftOut(data.left_out || [], data.left_out_count || 0);
  drawDraft();
  $("preview-title").focus();
});

$("preview-back").addEventListener("click", () => {
  say("");
  draft = null;
  $("preview-section").hidden = true;
  $("create-section").hidden = false;
  $("preview-button").focus();
});

$("preview-create").addEventListener("click", async () => {
  say("");
  if (draft.editing !== null) { say(`Save or cancel your changes to question ${draft.editing + 1} first.`); return; }
  $("preview-create").disabled = true;
  const body = { questions: draft.questions, time_limit_s: draft.seconds, settings: draft.settings };
  if (draft.due !== null) body.due_at_ms = draft.due;
  const { ok, data } = await api("/api/quizzes", { method: "POST", json: body });
  $("preview-create").disabled = false;
  if (!ok) {
    showCreateError(data.error);
    for (const problem of data.error?.problems ?? []) markProblem(problem);
    return;
  }
  $("preview-section").hidden = true;
  draft = null;
  created(data);
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

/** The lines of the teacher's list that made no question, each with why, at once. */
function drawLeftOut(lines, total) {
  $("left-out").hidden = total === 0;
  $("left-out-title").textContent = `${total} line${total === 1 ? "" : "s"} of your file left out`;
  const items = lines.map((p) => el("li", "", `${p.line != null ? `line ${p.line}: ` : ""}${p.message}`));
  if (total > lines.length) items.push(el("li", "more", `… and ${total - lines.length} more`));
  $("left-out-list").replaceChildren(...items);
}

function markProblem(problem) {
  const item = $("preview-list").children[problem.question - 1];
  if (!item) return;
  item.classList.add("invalid");
  item.append(el("p", "problem", `${problem.field}: ${problem.message}`));
}

function drawDraft() {
  $("preview-list").replaceChildren(...draft.questions.map((q, i) => (
    draft.editing === i ? editItem(q, i) : previewItem(q, i)
  )));
}

function previewItem(q, i) {
  const li = el("li", "preview-question");
  li.dataset.index = String(i);
  const head = el("p", "preview-head");
  head.append(
    el("span", "preview-number", `Question ${i + 1}`),
    el("span", "tag kind", KIND_NAMES[q.kind] || q.kind),
    el("span", "tag level", q.level ? `Level ${q.level}` : "Level –"),
    el("span", "tag word", `Word: ${q.word}`),
  );
  const options = el("ol", "preview-options");
  options.append(...q.options.map((text, j) => {
    const option = el("li", j === q.correct_option ? "right" : "");
    option.append(el("span", "letter", LETTERS[j]), el("span", "text", text));
    if (j === q.correct_option) option.append(el("span", "mark", "✓ right answer"));
    return option;
  }));
  const actions = el("div", "preview-actions");
  const replace = el("button", "replace", "Replace");
  replace.type = "button";
  replace.setAttribute("aria-label", `Replace question ${i + 1}`);
  replace.addEventListener("click", () => replaceQuestion(i, replace));
  const edit = el("button", "edit", "Edit");
  edit.type = "button";
  edit.setAttribute("aria-label", `Edit question ${i + 1}`);
  edit.addEventListener("click", () => {
    if (draft.editing !== null) { say(`Save or cancel your changes to question ${draft.editing + 1} first.`); return; }
    draft.editing = i;
    drawDraft();
    $("preview-list").children[i].querySelector("input").focus();
  });
  actions.append(replace, edit);
  li.append(head, el("p", "preview-prompt", q.prompt), options, actions);
  return li;
}

async function replaceQuestion(i, button) {
  say("");
  const q = draft.questions[i];
  const body = { kind: q.kind, level: q.level, avoid: draft.questions.map((d) => d.word) };
  if (draft.words !== null) body.words = draft.words;
  button.disabled = true;
  button.textContent = "Replacing…";
  const { ok, data } = await api("/api/drafts/replacement", { method: "POST", json: body });
  if (!ok) {
    button.disabled = false;
    button.textContent = "Replace";
    say(data.error?.code === "no_questions"
      ? `No other ${q.level} word is left for this kind of question: edit it instead.`
      : errorText(data.error));
    return;
  }
  draft.questions[i] = data.question;
  drawDraft();
  const item = $("preview-list").children[i];
  item.querySelector("button.replace").focus();
  announceDraft(`Question ${i + 1} replaced: ${data.question.prompt}`);
}

function announceDraft(text) {
  $("preview-status").textContent = text;
}

function editItem(q, i) {
  const li = el("li", "preview-question editing");
  li.dataset.index = String(i);
  const form = el("form", "edit-form");
  form.noValidate = true;
  const id = (name) => `edit-${i}-${name}`;
  const field = (labelText, name, value, maxLength) => {
    const label = el("label", "", labelText);
    label.htmlFor = id(name);
    const input = el("input");
    input.type = "text";
    input.id = id(name);
    input.name = name;
    input.value = value;
    input.maxLength = maxLength;
    return [label, input];
  };
  form.append(el("p", "preview-head", `Editing question ${i + 1} (${KIND_NAMES[q.kind] || q.kind}${q.level ? `, level ${q.level}` : ""})`));
  form.append(...field("Question", "prompt", q.prompt, 300));
  const answers = el("fieldset", "edit-options");
  answers.append(el("legend", "", "Answers (choose the right one)"));
  q.options.forEach((text, j) => {
    const row = el("div", "edit-option");
    const radio = el("input");
    radio.type = "radio";
    radio.name = `correct-${i}`;
    radio.value = String(j);
    radio.id = id(`right-${j}`);
    radio.checked = j === q.correct_option;
    radio.setAttribute("aria-label", `Answer ${LETTERS[j]} is the right one`);
    const label = el("label", "visually-hidden", `Answer ${LETTERS[j]}`);
    label.htmlFor = id(`option-${j}`);
    const input = el("input", "option-text");
    input.type = "text";
    input.id = id(`option-${j}`);
    input.value = text;
    input.maxLength = 150;
    row.append(radio, el("span", "letter", LETTERS[j]), label, input);
    answers.append(row);
  });
  form.append(answers);
  form.append(...field("Definition (shown in the review of missed words)", "definition", q.definition, 300));
  form.append(...field("Example sentence (optional)", "example", q.example, 300));
  const problem = el("p", "problem");
  problem.setAttribute("role", "alert");
  const actions = el("div", "preview-actions");
  const save = el("button", "primary save", "Save");
  save.type = "submit";
  const cancel = el("button", "cancel", "Cancel");
  cancel.type = "button";
  actions.append(save, cancel);
  form.append(problem, actions);
  cancel.addEventListener("click", () => {
    draft.editing = null;
    drawDraft();
    $("preview-list").children[i].querySelector("button.edit").focus();
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const options = [...form.querySelectorAll("input.option-text")].map((input) => input.value.trim());
    const chosen = form.querySelector(`input[name="correct-${i}"]:checked`);
    const prompt = form.elements.prompt.value.trim();
    // The server checks everything again; these are the mistakes worth catching at once.
    const fix = !prompt ? "The question needs some text."
      : options.some((o) => !o) ? "Every answer needs some text."
        : new Set(options.map((o) => o.toLowerCase())).size !== options.length ? "Two answers are the same: make them differ."
          : !chosen ? "Choose the right answer." : "";
    if (fix) { problem.textContent = fix; return; }
    draft.questions[i] = {
      ...q,
      prompt,
      options,
      correct_option: Number(chosen.value),
      definition: form.elements.definition.value.trim(),
      example: form.elements.example.value.trim(),
    };
    draft.editing = null;
    drawDraft();
    $("preview-list").children[i].querySelector("button.edit").focus();
    announceDraft(`Question ${i + 1} saved.`);
  });
  li.append(form);
  return li;
}

// ------------------------------------------------------------------ flags (teachers)

function teacherToken() {
  return session?.host_token || localStorage.getItem(TEACHER);
}

async function loadFlags() {
  const token = teacherToken();
  if (!token) { $("flags-section").hidden = true; return; }
  const { ok, status, data } = await api("/api/flags", { token });
  if (!ok) {
    if (status === 401 || status === 403) localStorage.removeItem(TEACHER); // expired
    $("flags-section").hidden = true;
    return;
  }
  $("flags-section").hidden = false;
  const flags = data.flags;
  $("flags-count").textContent = `(${flags.length})`;
  $("flags-empty").hidden = flags.length > 0;
  $("flags-list").replaceChildren(...flags.map((flag) => {
    const li = el("li", "flag-item");
    li.dataset.word = flag.word;
    li.dataset.kind = flag.kind;
    const head = el("p", "preview-head");
    head.append(
      el("span", "flag-word", flag.word),
      el("span", "tag kind", KIND_NAMES[flag.kind] || flag.kind),
      el("span", "tag level", flag.level ? `Level ${flag.level}` : "Level –"),
      el("span", "flag-count", `${flag.flags} flag${flag.flags === 1 ? "" : "s"}`),
    );
    li.append(head, el("p", "preview-prompt", flag.prompt));
    if (flag.reasons.length) {
      const reasons = el("ul", "flag-reasons");
      reasons.append(...flag.reasons.map((reason) => el("li", "", reason)));
      li.append(reasons);
    }
    const clear = el("button", "flag-clear", "Clear");
    clear.type = "button";
    clear.setAttribute("aria-label", `Clear the flags of '${flag.word}' (${KIND_NAMES[flag.kind] || flag.kind})`);
    clear.addEventListener("click", async () => {
      clear.disabled = true;
      const path = `/api/flags/${encodeURIComponent(flag.kind)}/${encodeURIComponent(flag.word)}`;
      const answer = await api(path, { method: "DELETE", token: teacherToken() });
      if (!answer.ok) { clear.disabled = false; say(errorText(answer.data.error)); return; }
      await loadFlags();
      $("flags-refresh").focus();
    });
    li.append(clear);
    return li;
  }));
}

$("flags-refresh").addEventListener("click", () => loadFlags());

function begin() {
  $("create-section").hidden = true;
  $("preview-section").hidden = true;
  loadFlags();
  $("host-section").hidden = false;
  $("pin-display").textContent = session.pin;
  $("join-link").href = `/play?pin=${session.pin}`;
  $("join-link").textContent = `${location.origin}/play?pin=${session.pin}`;
  $("screen-link").href = `/screen#token=${encodeURIComponent(session.host_token)}`;
  updateControls();
  connection = new Connection(session.host_token, {
    onFrame,
    onStatus: (status) => { $("connection").hidden = status !== "reconnecting"; },
    onGone: () => { say("This quiz is not on the server any more."); sessionStorage.removeItem(STORE); },
  });
  connection.start();
}

/** The link phones in the room can open (not this page's 127.0.0.1), or a warning that none can. */
async function showJoinLink() {
  const { ok, data } = await api(`/api/quizzes/${session.pin}/join`);
  if (!ok) return;
  $("join-link").href = data.join_url;
  $("join-link").textContent = data.join_url;
  $("join-warning").textContent = data.hint || "";
  $("join-warning").hidden = data.reachable;
}

// ------------------------------------------------------------------ controls

function command(action, extra = {}) {
  say("");
  if (!connection.send({ type: "host", action, ...extra })) say("Not connected right now; try again in a moment.");
}

$("start-button").addEventListener("click", () => command("start"));
/** A command about the question on this page names it (`q`): if the quiz has moved on by the
 * time it arrives (a second tab, a link that healed late), the server refuses it instead of
 * closing or skipping a question the teacher never saw. */
function questionCommand(action) {
  command(action, question ? { q: question.index } : {});
}

$("close-button").addEventListener("click", () => questionCommand("close"));
$("next-button").addEventListener("click", () => questionCommand("next"));
$("skip-button").addEventListener("click", () => questionCommand("skip"));
$("pause-button").addEventListener("click", () => questionCommand(question?.paused ? "resume" : "pause"));
// What cannot be undone asks first: one slip in front of a class must not lose the lesson.
$("end-button").addEventListener("click", () => {
  const question = dueAtMs !== null
    ? "End the homework now? Results become final for everyone."
    : "End the quiz now for everyone? The results become final.";
  if (confirm(question)) command("end");
});
$("lock-button").addEventListener("click", () => command(locked ? "unlock" : "lock"));
/** Extra time a teacher gives with the player's "More time" button, in turn (percent of each question's
 * time; the server takes 0 to 300). */
const EXTRA_STEPS = [0, 50, 100];

$("players").addEventListener("click", (event) => {
  const move = event.target.closest("button.team-move");
  if (move) {
    const id = Number(move.closest("li").dataset.playerId);
    const now = players.get(id)?.team ?? 0;
    command("team", { player_id: id, team: (now + 1) % teamCount });
    return;
  }
  const time = event.target.closest("button.extra-time");
  if (time) {
    const id = Number(time.closest("li").dataset.playerId);
    const now = players.get(id)?.extra ?? 0;
    const next = EXTRA_STEPS[(EXTRA_STEPS.indexOf(now) + 1) % EXTRA_STEPS.length];
    command("extra_time", { player_id: id, percent: next });
    return;
  }
  const other = event.target.closest("button.approve, button.rename");
  if (other) {
    const id = Number(other.closest("li").dataset.playerId);
    command(other.classList.contains("approve") ? "approve" : "rename", { player_id: id });
    return;
  }
  const button = event.target.closest("button.kick");
  if (!button) return;
  const id = Number(button.closest("li").dataset.playerId);
  const name = players.get(id)?.nickname ?? "this player";
  if (confirm(`Remove ${name} from the quiz? They cannot join it again.`)) command("kick", { player_id: id });
});
$("new-quiz").addEventListener("click", () => {
  const running = phase !== "finished" && players.size > 0;
  if (running && !confirm("Leave this quiz and start a new one? The players here stay behind.")) return;
  connection?.stop();
  sessionStorage.removeItem(STORE);
  location.reload();
});
/** Download a file of the quiz's, with the host's token. */
async function downloadFile(path, filename) {
  if (!(await download(path, session.host_token, filename))) say("Could not download the results.");
}

$("download-csv").addEventListener("click", () => downloadFile(`/api/quizzes/${session.quiz_id}/results?format=csv`, `quiz-${session.pin}-results.csv`));
$("download-xlsx").addEventListener("click", () => downloadFile(`/api/quizzes/${session.quiz_id}/report?format=xlsx`, `quiz-${session.pin}-report.xlsx`));

let reteach = [];
$("copy-reteach").addEventListener("click", async () => {
  const text = reteach.join(", ");
  try {
    await navigator.clipboard.writeText(text);
    $("copy-status").textContent = "Copied.";
  } catch {
    // no clipboard (an insecure origin): select the words so the teacher can copy them
    const range = document.createRange();
    range.selectNodeContents($("report-words"));
    getSelection().removeAllRanges();
    getSelection().addRange(range);
    $("copy-status").textContent = "Selected: press Ctrl+C to copy.";
  }
});

/** The end screen: which words the class did not know, hardest first. */
async function showReport() {
  const { ok, data } = await api(`/api/quizzes/${session.quiz_id}/report`, { token: session.host_token });
  if (!ok) return;
  reteach = data.reteach;
  const items = data.words.map((word) => {
    const li = el("li");
    li.dataset.word = word.word;
    if (word.to_reteach) li.classList.add("reteach");
    const share = word.share_correct === null ? "–" : `${Math.round(100 * word.share_correct)} %`;
    li.append(el("span", "word", word.word), el("span", "share", `${share} knew it (${word.correct} of ${word.asked})`));
    if (word.average_ms !== null) li.append(el("span", "muted", ` · ${(word.average_ms / 1000).toFixed(1)} s on average`));
    if (word.most_picked_wrong) li.append(el("span", "wrong-pick", ` · most picked wrong: “${word.most_picked_wrong.text}” (${word.most_picked_wrong.count})`));
    return li;
  });
  $("report-words").replaceChildren(...items);
  $("report-summary").textContent = reteach.length
    ? `${reteach.length} of ${data.words.length} words were known by fewer than 80 % of the class: ${reteach.join(", ")}.`
    : `Every word was known by at least 80 % of the class.`;
  $("copy-reteach").hidden = reteach.length === 0;
  $("report-section").hidden = false;
}

function updateControls() {
  const open = phase === "question_open";
  const homework = dueAtMs !== null;
  $("start-button").hidden = phase !== "lobby" || homework;
  $("close-button").hidden = !open;
  $("skip-button").hidden = !open;
  $("pause-button").hidden = !open;
  $("pause-button").textContent = question?.paused ? "Resume" : "Pause";
  $("pause-button").setAttribute("aria-pressed", String(Boolean(question?.paused)));
  $("next-button").hidden = phase !== "question_closed";
  const last = question && question.index + 1 >= question.count;
  $("next-button").textContent = last ? "Finish quiz" : "Next question";
  // Before anything happened there is nothing to end or download; during a question the
  // teacher's "new quiz" would abandon the class (it is offered in the lobby and at the end).
  $("end-button").hidden = phase === "finished" || phase === "lobby";
  $("download-csv").hidden = phase === "lobby";
  $("new-quiz").hidden = phase !== "lobby" && phase !== "finished";
  $("lock-button").hidden = phase === "finished";
  // During the game the join code shrinks to a line (latecomers can still read it) and the QR
  // code goes: the question and who has not answered yet fit the screen (issue 18).
  $("host-section").dataset.compact = String(phase === "question_open" || phase === "question_closed");
  $("lock-button").textContent = locked ? "Unlock joining" : "Lock joining";
  $("lock-button").setAttribute("aria-pressed", String(locked));
  $("start-button").disabled = players.size === 0;
  $("end-button").textContent = homework ? "End homework now" : "End quiz";
  if (homework) {
    const done = [...players.values()].filter((p) => p.progress?.finished).length;
    const due = new Date(dueAtMs).toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
    $("homework-status").textContent = phase === "finished"
      ? `Homework closed. ${done} of ${players.size} students finished every question.`
      : `Homework, due ${due}. ${done} of ${players.size} students have finished.`;
  }
  $("homework-status").hidden = !homework;
}

// ------------------------------------------------------------------ players

function drawPlayers() {
  const items = [...players.entries()].map(([id, p]) => {
    const li = el("li");
    li.dataset.playerId = String(id);
    if (!p.present) li.classList.add("away");
    li.append(el("span", "nickname", p.nickname));
    if (p.progress) {
      const text = p.progress.finished ? " done" : ` ${p.progress.done} of ${p.progress.count}`;
      li.append(el("span", p.progress.finished ? "done" : "muted", text));
    } else if (phase === "question_open" || phase === "question_closed") {
      const text = p.answered ? "✓ answered" : phase === "question_open" ? "not answered yet" : "no answer";
      li.classList.toggle("answered", Boolean(p.answered));
      li.append(el("span", `state ${p.answered ? "done" : "muted"}`, p.present ? text : `${text} (away)`));
    } else if (!p.present && phase !== "finished") li.append(el("span", "muted", " (away)"));
    if (!p.approved) {
      // approve_names: nobody else sees this name until the teacher says so
      li.classList.add("unapproved");
      li.append(el("span", "state muted", "waiting for your approval"));
      const approve = el("button", "approve primary", "Approve");
      approve.type = "button";
      approve.setAttribute("aria-label", `Approve the name ${p.nickname}`);
      li.append(approve);
    }
    if (p.team !== null && p.team !== undefined && teamCount) {
      // teams: the player's team; a click moves them to the next one
      const team = el("button", `team-move team-${p.team}`, `${TEAM_SHAPES[p.team]} ${TEAM_NAMES[p.team]}`);
      team.type = "button";
      team.setAttribute("aria-label", `${team.textContent}: ${p.nickname}, move to ${TEAM_NAMES[(p.team + 1) % teamCount]}`);
      li.append(team);
    }
    // an accommodation: more time on each question from the next one (none → +50% → double)
    const extra = p.extra ?? 0;
    const time = el("button", `extra-time${extra ? " on" : ""}`, extra ? `+${extra}% time` : "More time");
    time.type = "button";
    time.setAttribute("aria-label", `${time.textContent}: ${p.nickname}`);
    time.title = "More time on each question, from the next one: none, +50%, double";
    li.append(time);
    const rename = el("button", "rename", "Give a friendly name");
    rename.type = "button";
    // the accessible name starts with the visible words (WCAG 2.5.3), then says whose
    rename.setAttribute("aria-label", `Give a friendly name: ${p.nickname}`);
    li.append(rename);
    const kick = el("button", "kick", "Remove");
    kick.type = "button";
    kick.setAttribute("aria-label", `Remove ${p.nickname}`);
    li.append(kick);
    return li;
  });
  $("players").replaceChildren(...items);
  const n = players.size;
  $("player-count").textContent = `${n} player${n === 1 ? "" : "s"}`;
  drawWaiting();
  drawRejoins();
  updateControls();
}

/** A student on a borrowed device asks to be their away player again: the teacher decides. */
function drawRejoins() {
  const asking = [...players.entries()].filter(([, p]) => p.asks && phase !== "finished");
  $("rejoins").hidden = asking.length === 0;
  $("rejoins-list").replaceChildren(...asking.map(([id, p]) => {
    const li = el("li");
    li.dataset.playerId = String(id);
    li.append(el("span", "", `${p.nickname} asks to come back on another device${p.present ? " (the old one is connected again)" : ""}.`));
    const letIn = el("button", "primary let-in", `Let ${p.nickname} in`);
    letIn.type = "button";
    const away = el("button", "turn-away", "Turn away");
    away.type = "button";
    away.setAttribute("aria-label", `Turn away the device asking to be ${p.nickname}`);
    letIn.addEventListener("click", () => answerRejoin(id, "let_in"));
    away.addEventListener("click", () => answerRejoin(id, "turn_away"));
    li.append(letIn, away);
    return li;
  }));
}

function answerRejoin(id, action) {
  const player = players.get(id);
  if (player) player.asks = false;
  command(action, { player_id: id });
  drawPlayers();
}

/** Under the answered count, while a question is open: who the class is waiting for. */
function drawWaiting() {
  const open = phase === "question_open" && dueAtMs === null;
  const waiting = open ? [...players.values()].filter((p) => !p.answered && p.approved !== false) : [];
  $("waiting").hidden = !open;
  if (!open) return;
  if (!waiting.length) { $("waiting").textContent = "Everyone has answered."; return; }
  // those here first: an away student may be the reason the question is still open
  waiting.sort((a, b) => Number(b.present) - Number(a.present));
  const shown = waiting.slice(0, WAITING_SHOWN).map((p) => (p.present ? p.nickname : `${p.nickname} (away)`));
  const more = waiting.length - shown.length;
  $("waiting").textContent = `Not answered yet: ${shown.join(", ")}${more > 0 ? `, and ${more} more` : ""}.`;
}

// ------------------------------------------------------------------ frames

function onFrame(frame) {
  switch (frame.type) {
    case "welcome":
    case "snapshot": return drawSnapshot(frame);
    case "players": return onPlayers(frame);
    case "question": return openQuestion(frame.question, frame.server_time_ms);
    // the reading time is over: the options show (the deadline is counted afresh)
    case "options": return question && frame.index === question.index
      ? openQuestion({ ...question, options: frame.options, remaining_ms: undefined }, frame.server_time_ms)
      : undefined;
    case "closed": return onClosed(frame);
    case "board": return onBoard(frame);
    case "lock": locked = frame.locked; return updateControls();
    case "paused":
    case "resumed":
      if (pauseClock(countdown, $("host-countdown"), frame, question)) question = { ...question, paused: frame.type === "paused" };
      return updateControls();
    case "finished": phase = "finished"; countdown.stop(); return updateControls();
    case "final": return onFinal(frame.results);
    case "player_finished": return onPlayerFinished(frame);
    case "started": dueAtMs = frame.due_at_ms; phase = "in_progress"; return updateControls();
    case "error": return say(errorText(frame));
    default: return undefined;
  }
}

function drawSnapshot(frame) {
  const s = frame.state;
  phase = s.phase;
  locked = s.locked;
  players.clear();
  dueAtMs = s.due_at_ms ?? null;
  teamCount = s.settings?.teams ?? 0;
  for (const p of s.players) {
    players.set(p.player_id, {
      nickname: p.nickname, present: p.present, answered: p.answered, progress: p.progress,
      asks: p.asks_to_rejoin, approved: p.approved !== false, extra: p.extra_percent ?? 0,
      team: p.team ?? null,
    });
  }
  drawPlayers();
  // Homework: the progress of each student comes with a snapshot; ask for one now and then.
  clearInterval(syncTimer);
  if (dueAtMs !== null && s.phase === "in_progress") syncTimer = setInterval(() => connection?.send({ type: "sync" }), 10_000);
  if (s.leaderboard) onBoard(s.leaderboard);
  if (s.question) {
    openQuestion(s.question, frame.server_time_ms, false);
    if (!s.question.open && s.question.reveal) onClosed({ reveal: s.question.reveal, option_counts: null });
    setAnswered(s.answered, s.leaderboard?.players ?? players.size);
  }
  phase = s.phase;
  updateControls();
  // Reloaded after the end: the final standings and the report, not a room of "(away)"; the
  // PIN is free again, so no join code or QR code (it would join nothing).
  $("join-panel").hidden = s.phase === "finished";
  if (s.phase === "finished") loadFinal();
  else if (!$("qr").getAttribute("src")) {
    $("qr").src = `/api/quizzes/${session.pin}/qr.svg`;
    showJoinLink(); // once: the link phones in the room can open (the PIN is live)
  }
}

async function loadFinal() {
  const { ok, data } = await api(`/api/quizzes/${session.quiz_id}/results`, { token: session.host_token });
  if (ok) onFinal(data);
}

function onPlayerFinished(frame) {
  const player = players.get(frame.player_id);
  if (player) player.progress = { ...(player.progress || {}), finished: true };
  drawPlayers();
}

function onPlayers(frame) {
  // (a homework's newcomer's progress comes with the next snapshot)
  for (const p of frame.joined) {
    players.set(p.player_id, { nickname: p.nickname, present: true, answered: false, approved: p.approved !== false, team: p.team ?? null });
  }
  for (const p of frame.team ?? []) {
    const player = players.get(p.player_id);
    if (player) player.team = p.team;
  }
  for (const p of frame.extra_time ?? []) {
    const player = players.get(p.player_id);
    if (player) player.extra = p.percent;
  }
  for (const p of frame.named ?? []) {
    const player = players.get(p.player_id);
    if (player) Object.assign(player, { nickname: p.nickname, approved: true });
  }
  // back, left and kicked are lists of player ids (docs/protocol.md, "players")
  for (const id of frame.back) if (players.has(id)) players.get(id).present = true;
  for (const id of frame.left) if (players.has(id)) players.get(id).present = false;
  for (const id of frame.kicked) players.delete(id);
  for (const id of frame.answered ?? []) if (players.has(id)) players.get(id).answered = true;
  for (const id of frame.rejoin_asked ?? []) if (players.has(id)) players.get(id).asks = true;
  for (const id of frame.rejoin_answered ?? []) if (players.has(id)) players.get(id).asks = false;
  drawPlayers();
}

function openQuestion(q, serverTimeMs, fresh = true) {
  if (fresh && question?.index !== q.index) for (const p of players.values()) p.answered = false;
  question = q;
  phase = q.open ? "question_open" : "question_closed";
  $("host-question").hidden = false;
  $("host-question-number").textContent = `Question ${q.index + 1} of ${q.count}`;
  $("host-prompt").textContent = q.prompt;
  renderOptions($("host-options"), q.options);
  $("host-reveal").hidden = true;
  $("host-flag").hidden = true;
  if (q.open) countdown.start(q, serverTimeMs);
  else { countdown.stop(); $("host-countdown").textContent = "0"; }
  if (q.open && q.paused) pauseClock(countdown, $("host-countdown"), { type: "paused", index: q.index }, q);
  setAnswered(0, players.size);
  drawPlayers();
}

function onClosed(frame) {
  phase = "question_closed";
  countdown.stop();
  $("host-countdown").textContent = "0";
  if (question) renderOptions($("host-options"), question.options, frame.reveal.correct_option, frame.option_counts);
  $("host-reveal").textContent = describeReveal(frame.reveal);
  $("host-reveal").hidden = false;
  showHostFlag();
  if (frame.option_counts) setAnswered(frame.option_counts.reduce((a, b) => a + b, 0), players.size);
  drawPlayers();
}

function showHostFlag() {
  if (!question || $("host-flag").dataset.index === String(question.index) && !$("host-flag").hidden) return;
  const index = question.index;
  $("host-flag").dataset.index = String(index);
  flagControl($("host-flag"), `question ${index + 1}`, async (reason) => {
    const answer = await api(`/api/quizzes/${session.quiz_id}/flags`, {
      method: "POST", token: session.host_token, json: reason ? { index, reason } : { index },
    });
    if (answer.ok) loadFlags();
    return answer;
  });
  $("host-flag").hidden = false;
}

function setAnswered(answered, total) {
  $("answered-count").textContent = `${answered ?? 0} of ${total} answered`;
}

function onBoard(board) {
  renderBoard($("host-leaderboard"), board.top);
  $("host-teams-title").hidden = !board.teams;
  $("host-teams").hidden = !board.teams;
  if (board.teams) renderTeams($("host-teams"), board.teams);
  if (board.answered !== null && board.answered !== undefined) setAnswered(board.answered, board.players);
}

function onFinal(report) {
  const lines = report.players.map((p) => ({ ...p }));
  renderBoard($("host-leaderboard"), lines);
  if (report.teams) renderTeams($("host-teams"), report.teams);
  say("");
  $("host-question-number").textContent = "Quiz over";
  $("answered-count").textContent = `${lines.length} players · download the results below`;
  connection.stop();
  clearInterval(syncTimer);
  updateControls();
  showReport();
}

// ------------------------------------------------------------------ resume after a refresh

try { session = JSON.parse(sessionStorage.getItem(STORE) || "null"); } catch { session = null; }
if (session && session.host_token) begin();
else loadFlags();
