// The WebSocket connection and the protocol helpers shared by the pages (docs/protocol.md).
// A Connection says hello with its token, and after a drop comes back by itself with
// exponential backoff and full jitter, like livequiz.client.QuizClient.

/** Close codes after which the token will never work again: bad token, unknown quiz, kicked. */
export const FINAL_CLOSE_CODES = new Set([4003, 4004, 4009]);
/** Frames for everyone that carry the quiz's sequence number (they never go back). */
const SEQUENCED = new Set(["board", "question", "closed", "finished", "lock"]);

/** Full jitter: a random wait in [0, min(cap, base × 2^attempt)] milliseconds. */
export function backoffDelay(attempt, baseMs = 500, capMs = 15000) {
  return Math.random() * Math.min(capMs, baseMs * 2 ** attempt);
}

export function wsUrl() {
  return `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/ws`;
}

export class Connection {
  /**
   * @param {string} token the host or player token (never put in a URL)
   * @param {{onFrame: (frame: object) => void, onStatus?: (status: string) => void,
   *          onGone?: (code: number) => void}} handlers
   *   onStatus gets "connecting", "open" (after welcome) or "reconnecting";
   *   onGone gets the close code after which reconnecting is pointless.
   */
  constructor(token, { onFrame, onStatus = () => {}, onGone = () => {} }) {
    this.token = token;
    this.onFrame = onFrame;
    this.onStatus = onStatus;
    this.onGone = onGone;
    this.attempt = 0;
    this.ws = null;
    this.timer = null;
    this.stopped = false;
    this.authenticated = false;
    this.retryAtOnce = false;
    addEventListener("online", () => this.retryNow());
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState !== "visible") return;
      if (this.authenticated) this.send({ type: "sync" });
      else this.retryNow();
    });
  }

  start() {
    this.stopped = false;
    this.open();
  }

  /** Stop for good (the quiz is over, or the page leaves it). */
  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ws) this.ws.close(1000);
  }

  /** Send a message now; false if the connection is down (the caller keeps it for later). */
  send(message) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN || !this.authenticated) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }

  /** The network is back (or the tab is visible again): don't sit out the backoff. */
  retryNow() {
    if (this.stopped) return;
    if (this.ws) {
      // An attempt made while offline may still be failing: retry at once when it does.
      this.retryAtOnce = true;
      return;
    }
    if (this.timer === null) return;
    clearTimeout(this.timer);
    this.timer = null;
    this.attempt = 0;
    this.open();
  }

  open() {
    this.timer = null;
    this.onStatus(this.attempt === 0 ? "connecting" : "reconnecting");
    let ws;
    try {
      ws = new WebSocket(wsUrl());
    } catch {
      this.scheduleRetry();
      return;
    }
    this.ws = ws;
    ws.addEventListener("open", () => {
      // The highest sequence number drawn so far: a server process behind it catches up
      // before its welcome, so the screen never goes back (docs/protocol.md, hello).
      const hello = { type: "hello", token: this.token };
      if (this.seenSeq > 0) hello.seq = this.seenSeq;
      ws.send(JSON.stringify(hello));
    });
    ws.addEventListener("message", (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      const seq = frame.state && (frame.type === "welcome" || frame.type === "snapshot")
        ? frame.state.seq
        : SEQUENCED.has(frame.type) ? frame.seq : undefined;
      if (typeof seq === "number" && seq > (this.seenSeq || 0)) this.seenSeq = seq;
      if (frame.type === "welcome") {
        this.attempt = 0;
        this.authenticated = true;
        this.onStatus("open");
      }
      this.onFrame(frame);
    });
    ws.addEventListener("close", (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.authenticated = false;
      if (this.stopped) return;
      if (FINAL_CLOSE_CODES.has(event.code)) {
        this.stopped = true;
        this.onGone(event.code);
        return;
      }
      this.scheduleRetry();
    });
  }

  scheduleRetry() {
    this.onStatus("reconnecting");
    if (this.retryAtOnce) {
      this.retryAtOnce = false;
      this.attempt = 0;
    }
    const delay = backoffDelay(this.attempt);
    this.attempt += 1;
    this.timer = setTimeout(() => this.open(), delay);
  }
}

/** A JSON HTTP call; resolves to {ok, status, data}, data being the body or {error: {...}}. */
export async function api(path, { method = "GET", json, form, token } = {}) {
  const headers = {};
  let body;
  if (json !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = form;
  }
  if (token) headers.authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(path, { method, headers, body, credentials: "same-origin" });
  } catch {
    return { ok: false, status: 0, data: { error: { code: "network", message: "network error" } } };
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = { error: { code: "internal", message: `HTTP ${response.status}` } };
  }
  return { ok: response.ok, status: response.status, data };
}

/** Plain words for the error codes a person may meet. */
export const ERROR_TEXT = {
  unknown_quiz: "No quiz has that ID. Check the number on the big screen.",
  nickname_taken: "That nickname is already taken in this quiz. Please pick another one.",
  nickname_invalid: "Nicknames need 2–20 letters or digits (spaces and - _ . ' are fine).",
  nickname_profane: "Please choose a friendlier nickname.",
  quiz_full: "Sorry, this quiz is full.",
  quiz_finished: "This quiz has already finished.",
  lobby_locked: "The host has locked this quiz: no new players can join right now.",
  late_join_closed: "This quiz has already started and late joining is off.",
  rate_limited: "Too many tries at once. Wait a moment, then try again.",
  kicked: "The host removed you from this quiz.",
  name_not_approved: "Wait a moment: your teacher checks your name first.",
  bad_token: "Your place in this quiz could not be restored. Please join again.",
  auth_required: "Your place in this quiz could not be restored. Please join again.",
  too_late: "Time is up for this question.",
  question_not_open: "This question has not opened yet.",
  network: "Could not reach the quiz server. Check your connection and try again.",
  connection_lost: "Connection lost. Reconnecting…",
  not_in_review: "A question can be flagged once it has closed.",
  bad_app_token: "Your sign-in from the app has run out. Open the quiz from the app again.",
  app_sign_in_required: "This quiz is for the app's users: open it from the app.",
};

/** The plain name of a question kind. */
export const KIND_NAMES = {
  word_to_meaning: "Word → meaning",
  meaning_to_word: "Meaning → word",
  synonym: "Synonym",
  fill_blank: "Fill the blank",
  authored: "Your own question",
};

/**
 * A "Flag this question" control in `box`: a button that opens a one-line reason (optional)
 * and sends the flag with `send(reason)` → {ok, data}; then says it was sent.
 * `label` names the question for screen readers ("question 3", "the word 'harbour'").
 */
export function flagControl(box, label, send) {
  const open = el("button", "flag-open", "Flag this question");
  open.type = "button";
  // the accessible name starts with the visible words (WCAG 2.5.3), then says which question
  open.setAttribute("aria-label", `Flag this question: ${label}`);
  open.setAttribute("aria-expanded", "false");
  const form = el("form", "flag-form");
  form.hidden = true;
  form.noValidate = true;
  const id = `flag-reason-${Math.random().toString(36).slice(2, 9)}`;
  const reasonLabel = el("label", "", "What is wrong with it? (optional)");
  reasonLabel.htmlFor = id;
  const reason = el("input", "flag-reason");
  reason.id = id;
  reason.type = "text";
  reason.maxLength = 200;
  reason.autocomplete = "off";
  const submit = el("button", "flag-send", "Send flag");
  submit.type = "submit";
  const status = el("p", "flag-status");
  status.setAttribute("role", "status");
  form.append(reasonLabel, reason, submit);
  box.replaceChildren(open, form, status);
  open.addEventListener("click", () => {
    form.hidden = !form.hidden;
    open.setAttribute("aria-expanded", String(!form.hidden));
    if (!form.hidden) reason.focus();
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    submit.disabled = true;
    const { ok, data } = await send(reason.value.trim());
    submit.disabled = false;
    if (!ok) { status.textContent = errorText(data.error); return; }
    form.hidden = true;
    open.disabled = true;
    open.textContent = "Flagged";
    open.setAttribute("aria-expanded", "false");
    status.textContent = data.new ? "Thank you: your teacher will look at this question." : "You had flagged it already.";
  });
}

export function errorText(error) {
  if (!error) return "Something went wrong.";
  return ERROR_TEXT[error.code] || error.message || "Something went wrong.";
}

/**
 * Download a file of the API with a token (sent in a header, never in the address, so it stays
 * out of logs and the history); false if the server refused or could not be reached.
 */
export async function download(path, token, filename) {
  const response = await fetch(path, { headers: { authorization: `Bearer ${token}` } }).catch(() => null);
  if (!response || !response.ok) return false;
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
  return true;
}

const NUMBER = new Intl.NumberFormat("en-US");
export const formatNumber = (n) => NUMBER.format(n ?? 0);

export function ordinal(n) {
  const tens = n % 100;
  if (tens >= 11 && tens <= 13) return `${n}th`;
  return `${n}${{ 1: "st", 2: "nd", 3: "rd" }[n % 10] || "th"}`;
}

/** An element with a class and text (text only: user input never becomes markup). */
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = String(text);
  return node;
}

/**
 * Draw leaderboard lines (li > .rank .nickname .score) into `list`.
 * `meId` marks the own line with class "me"; `previous` (player_id → rank) marks lines whose
 * rank went up or down with class "up"/"down".
 */
export function renderBoard(list, top, { meId = null, previous = null } = {}) {
  const lines = top.map((line) => {
    const li = el("li");
    li.dataset.playerId = String(line.player_id);
    li.append(
      el("span", "rank", line.rank),
      el("span", "nickname", line.nickname),
      el("span", "score", formatNumber(line.score)),
    );
    if (line.player_id === meId) li.classList.add("me");
    const before = previous ? previous.get(line.player_id) : undefined;
    if (before !== undefined && before !== line.rank) li.classList.add(line.rank < before ? "up" : "down");
    return li;
  });
  list.replaceChildren(...lines);
}

/** The team board (setting `teams`): each team's average, best first; `myTeam` marked. */
export function renderTeams(list, teams, myTeam = null) {
  list.replaceChildren(...(teams ?? []).map((line) => {
    const li = el("li", `team team-${line.team}`);
    li.dataset.team = String(line.team);
    li.append(
      el("span", "rank", line.rank),
      el("span", "nickname", `${TEAM_SHAPES[line.team]} ${line.name}`),
      el("span", "score", formatNumber(line.score)),
      el("span", "muted", ` (${line.members})`),
    );
    if (line.team === myTeam) li.classList.add("me");
    return li;
  }));
}

/** A shape per team beside its colour and name, so no one needs to tell colours apart. */
export const TEAM_SHAPES = ["▲", "◆", "●", "■", "★", "⬟"];
/** The teams' names, in team order (the server's views.TEAM_NAMES). */
export const TEAM_NAMES = ["Red", "Blue", "Green", "Yellow", "Purple", "Orange"];

/** A countdown to a deadline in this browser's clock, drawn every 200 ms until it stops. */
export class Countdown {
  constructor(onTick) {
    this.onTick = onTick;
    this.timer = null;
  }

  /** Start from a question object (remaining_ms at receipt; closes_at_ms as a fallback). */
  start(question, serverTimeMs) {
    this.stop();
    let remaining = question.remaining_ms;
    if (typeof remaining !== "number" && serverTimeMs) remaining = question.closes_at_ms - serverTimeMs;
    this.deadline = Date.now() + Math.max(0, remaining || 0);
    // a player with extra time counts down from their own, longer limit
    this.total = (question.time_limit_ms || remaining || 1) + (question.extra_ms || 0);
    const tick = () => {
      const left = Math.max(0, this.deadline - Date.now());
      this.onTick(left, this.total);
      if (left === 0) this.stop();
    };
    tick();
    this.timer = setInterval(tick, 200);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
  }
}

/** The quiz moves on by itself (auto_advance): "Next question in 5" counting down in
 * ``element`` (hidden when ``ms`` is null); returns the function that stops it. */
export function nextCountdown(element, ms, question) {
  if (ms == null || !question) { element.hidden = true; return () => {}; }
  const at = Date.now() + ms;
  const last = question.index + 1 >= question.count;
  const draw = () => {
    const left = Math.max(0, Math.ceil((at - Date.now()) / 1000));
    element.textContent = `${last ? "Results" : "Next question"} in ${left}`;
  };
  draw();
  element.hidden = false;
  const timer = setInterval(draw, 250);
  return () => { clearInterval(timer); element.hidden = true; };
}

/** A paused question: the clock shows "Paused" and stands still; a resume restarts it. */
export function pauseClock(countdown, clock, frame, question) {
  if (!question || frame.index !== question.index) return false;
  if (frame.type === "paused") {
    countdown.stop();
    clock.textContent = "Paused";
    clock.classList.add("paused");
  } else {
    clock.classList.remove("paused");
    // `resumed` says everyone's time left; a player with extra time has that much more
    const extra = question.extra_ms || 0;
    countdown.start({ remaining_ms: frame.remaining_ms + extra, time_limit_ms: question.time_limit_ms, extra_ms: extra });
  }
  return true;
}

export const LETTERS = ["A", "B", "C", "D", "E", "F"];
export const SHAPES = ["▲", "◆", "●", "■", "★", "⬟"];

/** Drawn host/screen options: li.option-N with a shape, a letter and the text. */
export function renderOptions(list, options, correct = null, counts = null) {
  // long definitions as options: a smaller type on the big screen, so the reveal below them
  // still fits a 1080p projector
  list.classList.toggle("long", options.some((text) => text.length > LONG_OPTION));
  list.replaceChildren(
    ...options.map((text, i) => {
      const li = el("li", `opt opt-${i}`);
      const shape = el("span", "shape", SHAPES[i]);
      shape.setAttribute("aria-hidden", "true");
      li.append(shape, el("span", "letter", LETTERS[i]), el("span", "text", text));
      if (counts) li.append(el("span", "count", `${counts[i] ?? 0}`));
      if (correct !== null) li.classList.add(i === correct ? "correct" : "dim");
      return li;
    }),
  );
}

const LONG_OPTION = 60;

export function describeReveal(reveal) {
  // a teacher's own question has no definition of its own: the answer says it all
  const parts = [reveal.definition ? `${reveal.word}: ${reveal.definition}` : `The answer: ${reveal.word}`];
  if (reveal.example) parts.push(`“${reveal.example}”`);
  return parts.join(" — ");
}

/** The high-contrast palette (white on black, yellow accents, outlined options): on by the
 * button (remembered by this browser) or by the system's "more contrast" setting. */
export function contrastToggle(button) {
  const saved = localStorage.getItem("livequiz.contrast");
  const wanted = saved ? saved === "high" : matchMedia("(prefers-contrast: more)").matches;
  const apply = (on) => {
    document.documentElement.classList.toggle("high-contrast", on);
    if (button) button.setAttribute("aria-pressed", String(on));
  };
  apply(wanted);
  button?.addEventListener("click", () => {
    const on = !document.documentElement.classList.contains("high-contrast");
    localStorage.setItem("livequiz.contrast", on ? "high" : "normal");
    apply(on);
  });
}
