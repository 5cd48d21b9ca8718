// @ts-check
/**
 * The research console's one script (served as-is at /console/console.js: no build step). Plain ES module,
 * type-checked by `npm run typecheck` (JSDoc, `// @ts-check`). The top half is pure — money in integer fen, a
 * Server-Sent Events parser, the budget a task's payment events add up to, the lines of its story — and
 * is unit-tested in Node (console.lib.test.ts); the bottom half wires the page and runs only in a browser.
 *
 * Rules it keeps: the API key lives in this tab's sessionStorage and travels only in an Authorization
 * header; every text from the API goes into the page as text (textContent), never as markup — the one
 * exception is the report, which the server renders and sanitises and which enters through a single
 * Trusted Types policy; no inline script or style (the CSP allows neither); money is never a float.
 */

// ---- money: integer fen inside, decimal strings on the wire ---------------------------------------------

/**
 * Fen from a wire amount ("12", "12.5", "12.50"); throws on anything else (negative, exponent, spaces).
 * @param {string} text
 * @returns {number}
 */
export function toFen(text) {
  const m = /^(\d{1,13})(?:\.(\d{1,2}))?$/.exec(text);
  if (!m) throw new Error(`not an amount: ${JSON.stringify(text)}`);
  return Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0'));
}

/**
 * A decimal string with two places from integer fen.
 * @param {number} fen
 * @returns {string}
 */
export function formatFen(fen) {
  if (!Number.isSafeInteger(fen)) throw new Error(`not a whole number of fen: ${fen}`);
  const abs = Math.abs(fen);
  return `${fen < 0 ? '-' : ''}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}

// ---- Server-Sent Events ------------------------------------------------------------------------------

/** @typedef {{ id: string | undefined, event: string, data: string }} SseMessage */

/**
 * A Server-Sent Events parser (the WHATWG event-stream rules): feed it text as it arrives, in chunks cut
 * anywhere — even between a CR and its LF — and it returns the messages completed so far. Comments
 * (`: heartbeat`) are dropped; `retry:` is ignored.
 */
export class SseParser {
  constructor() {
    /** @type {string} */ this.buffer = '';
    /** @type {string | undefined} */ this.lastId = undefined;
    /** @type {string} */ this.event = '';
    /** @type {string[]} */ this.data = [];
    /** @type {boolean} */ this.afterCR = false;
  }

  /**
   * @param {string} chunk
   * @returns {SseMessage[]}
   */
  push(chunk) {
    /** @type {SseMessage[]} */
    const out = [];
    if (chunk === '') return out;
    // The last chunk ended with a CR: an LF starting this one is the rest of that line end.
    if (this.afterCR && chunk.startsWith('\n')) chunk = chunk.slice(1);
    this.afterCR = false;
    this.buffer += chunk;
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.buffer);
      if (!m) break;
      const line = this.buffer.slice(0, m.index);
      this.buffer = this.buffer.slice(m.index + m[0].length);
      if (m[0] === '\r' && this.buffer === '') this.afterCR = true;
      this.line(line, out);
    }
    return out;
  }

  /**
   * @param {string} line
   * @param {SseMessage[]} out
   */
  line(line, out) {
    if (line === '') {
      if (this.data.length) out.push({ id: this.lastId, event: this.event || 'message', data: this.data.join('\n') });
      this.event = '';
      this.data = [];
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.event = value;
    else if (field === 'data') this.data.push(value);
    else if (field === 'id' && !value.includes('\0')) this.lastId = value;
  }
}

// ---- a task's budget, moved by its payment events ----------------------------------------------------------

/** @typedef {{ limit: number, reserved: number, captured: number, released: number, refunded: number }} Book */
/** @typedef {'reserve' | 'capture' | 'release' | 'refund'} Movement */

/**
 * An empty book for a budget of `limit` fen.
 * @param {number} limit
 * @returns {Book}
 */
export function emptyBook(limit) {
  return { limit, reserved: 0, captured: 0, released: 0, refunded: 0 };
}

/**
 * The book after one payment event (DESIGN.md §3): a reserve holds money; a capture or a release
 * moves the whole reservation into captured or back; a refund returns captured money.
 * @param {Book} book
 * @param {Movement} movement
 * @param {number} amount fen
 * @returns {Book}
 */
export function applyMovement(book, movement, amount) {
  switch (movement) {
    case 'reserve':
      return { ...book, reserved: book.reserved + amount };
    case 'capture':
      return { ...book, reserved: book.reserved - amount, captured: book.captured + amount };
    case 'release':
      return { ...book, reserved: book.reserved - amount, released: book.released + amount };
    case 'refund':
      return { ...book, refunded: book.refunded + amount };
    default:
      throw new Error(`unknown movement: ${String(movement)}`);
  }
}

/**
 * What the bar and its legend show, in fen: spent = captured − refunded; remaining = limit − spent − reserved.
 * @param {Book} book
 */
export function figures(book) {
  const spent = book.captured - book.refunded;
  return { limit: book.limit, reserved: book.reserved, spent, refunded: book.refunded, remaining: book.limit - spent - book.reserved };
}

/**
 * The bar's segments on a scale of 0–1000: spent, reserved, then what was refunded (money back in the
 * remaining budget, shown apart) and the rest of the remaining budget. Whole numbers that add up to 1000
 * (a zero limit draws an empty bar).
 * @param {Book} book
 * @returns {{ spent: [number, number], reserved: [number, number], refunded: [number, number], free: [number, number] }}
 */
export function barSegments(book) {
  const f = figures(book);
  const limit = Math.max(f.limit, 1);
  const clamp = (/** @type {number} */ n) => Math.min(Math.max(n, 0), f.limit);
  const spent = clamp(f.spent);
  const reserved = clamp(Math.min(f.reserved, f.limit - spent));
  const back = clamp(Math.min(f.refunded, f.limit - spent - reserved));
  // Cumulative edges, rounded once each, so the widths always add up to the whole.
  const edge = (/** @type {number} */ fen) => Math.round((fen * 1000) / limit);
  const e1 = edge(spent);
  const e2 = edge(spent + reserved);
  const e3 = edge(spent + reserved + back);
  const end = f.limit > 0 ? 1000 : 0;
  return { spent: [0, e1], reserved: [e1, e2 - e1], refunded: [e2, e3 - e2], free: [e3, end - e3] };
}

// ---- a task's story, told -----------------------------------------------------------------------------------

/** @typedef {{ seq: number, taskId: string, type: string, at: string, data: Record<string, any> }} TaskEvent */

export const STAGES = /** @type {const} */ (['search', 'authorize', 'detail', 'report']);

const MOVED = { reserve: 'Reserved', capture: 'Paid', release: 'Released', refund: 'Refunded' };

/**
 * One line telling an event, for people; `names` maps company ids to names (from decisions and the task).
 * @param {TaskEvent} e
 * @param {Map<string, string>} names
 * @returns {string}
 */
export function describeEvent(e, names) {
  const d = e.data ?? {};
  const company = (/** @type {string} */ id) => names.get(id) ?? id;
  switch (e.type) {
    case 'created':
      return 'Task stored, queued';
    case 'stage':
      return `Stage: ${d.stage}`;
    case 'searched':
      return `Searched ${d.queries?.length ?? 0} quer${d.queries?.length === 1 ? 'y' : 'ies'} (planned by ${d.plannedBy}): ${d.found} found, ${d.chosen} chosen${d.owned ? `, ${d.owned} already owned` : ''}`;
    case 'candidates':
      return `${d.count} candidate${d.count === 1 ? '' : 's'}, ${d.chosen} chosen to buy`;
    case 'decision':
      return `${d.action === 'buy' ? 'Buy' : 'Skip'} ${d.name} (${d.price} CNY), by ${d.by}: ${d.reason}`;
    case 'voice_checked':
      return d.verified ? `Voice verified${typeof d.score === 'number' ? ` (score ${d.score})` : ''}` : `Voice not verified${d.mismatch?.length ? ` (${d.mismatch.join(', ')} did not match)` : ''}`;
    case 'token_issued':
      return `Payment token issued: limit ${d.limit} CNY, expires ${d.expiresAt}`;
    case 'payment':
      return `${MOVED[/** @type {Movement} */ (d.movement)] ?? d.movement} ${d.amount} CNY for ${company(d.companyId)}`;
    case 'foreign_charge':
      return `Charges we did not make on the token: ${d.total} CNY`;
    case 'cancel_requested':
      return 'Cancel requested';
    case 'report_ready':
      return `Report written (${d.writer})`;
    case 'ended':
      return d.error ? `Ended: ${d.status} — ${d.error.code}: ${d.error.message}` : `Ended: ${d.status}`;
    default:
      return e.type;
  }
}

/**
 * What a company's payment events say, for its row: the last movement and the amount it moved.
 * @param {string | undefined} movement
 */
export function moneyLabel(movement) {
  return movement === 'reserve' ? 'reserved' : movement === 'capture' ? 'paid' : movement === 'release' ? 'released' : movement === 'refund' ? 'refunded' : '';
}

/** @typedef {{ type: string, title: string, status: number, detail: string, code: string, errors?: Array<{ path: string, message: string }> }} Problem */

/**
 * The problem an answer carries (RFC 9457), or one made up from its status when it carries none.
 * @param {Response} res
 * @returns {Promise<Problem>}
 */
export async function problemOf(res) {
  const text = await res.text().catch(() => '');
  try {
    const body = JSON.parse(text);
    if (body && typeof body === 'object' && typeof body.title === 'string') {
      return {
        type: String(body.type ?? 'about:blank'),
        title: body.title,
        status: Number(body.status ?? res.status),
        detail: String(body.detail ?? ''),
        code: String(body.code ?? ''),
        ...(Array.isArray(body.errors) ? { errors: body.errors.map((/** @type {any} */ e) => ({ path: String(e?.path ?? ''), message: String(e?.message ?? '') })) } : {}),
      };
    }
  } catch {
    // not JSON: described below
  }
  return { type: 'about:blank', title: res.statusText || 'Request failed', status: res.status, detail: text.slice(0, 300), code: '' };
}

// ---- the page -------------------------------------------------------------------------------------------------

const KEY_STORE = 'arp.console.apiKey';
const ENDED = new Set(['completed', 'failed', 'cancelled']);

/**
 * Makes an element with attributes and children (strings become text nodes: never markup).
 * @param {string} tag
 * @param {Record<string, string | boolean | undefined>} [attrs]
 * @param {...(Node | string | null | undefined | false)} children
 * @returns {HTMLElement}
 */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    node.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) node.append(c);
  return node;
}

/**
 * @param {string} id
 * @returns {HTMLElement}
 */
function byId(id) {
  const node = document.getElementById(id);
  if (!node) throw new Error(`the page has no #${id}`);
  return node;
}

/** A local time of day, for the story's lines. @param {string} iso */
const clock = (iso) => new Date(iso).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
/** A local date and time, for the list. @param {string} iso */
const when = (iso) => new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
/** @param {number} ms */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The one way markup enters the page: the report the server rendered and sanitised (shared/report/html.ts). */
const reportPolicy =
  typeof window !== 'undefined' && /** @type {any} */ (window).trustedTypes
    ? /** @type {any} */ (window).trustedTypes.createPolicy('arp-report', { createHTML: (/** @type {string} */ html) => html })
    : { createHTML: (/** @type {string} */ html) => html };

/**
 * Where the page reads from: the tenant's v1 API with its key, or the operators' read-only view (the
 * browser sends the admin login it already holds for /admin).
 * @typedef {{ mode: 'user' | 'operator', task: (id: string) => string, events: (id: string) => string, report: (id: string) => string, headers: () => Record<string, string> }} Api
 */

/** @param {'user' | 'operator'} mode @returns {Api} */
function apiFor(mode) {
  if (mode === 'operator') {
    return {
      mode,
      task: (id) => `/admin/tasks/${encodeURIComponent(id)}`,
      events: (id) => `/admin/tasks/${encodeURIComponent(id)}/events`,
      report: (id) => `/admin/tasks/${encodeURIComponent(id)}/report`,
      headers: () => ({}),
    };
  }
  return {
    mode,
    task: (id) => `/v1/tasks/${encodeURIComponent(id)}`,
    events: (id) => `/v1/tasks/${encodeURIComponent(id)}/events`,
    report: (id) => `/v1/tasks/${encodeURIComponent(id)}/report`,
    headers: () => {
      const key = sessionStorage.getItem(KEY_STORE);
      /** @type {Record<string, string>} */
      const headers = {};
      if (key) headers.authorization = `Bearer ${key}`;
      return headers;
    },
  };
}

/** Thrown for an answer that is not what was asked: carries its problem. */
class ProblemError extends Error {
  /** @param {Problem} problem */
  constructor(problem) {
    super(`${problem.title}: ${problem.detail}`);
    this.problem = problem;
  }
}

/**
 * Shows a problem in a box (role="alert"): its title and status, detail, each field error, and its code.
 * @param {HTMLElement} box
 * @param {Problem | undefined} p
 */
function showProblem(box, p) {
  if (!p) {
    box.hidden = true;
    box.replaceChildren();
    return;
  }
  const parts = [
    el('p', { class: 'problem-title' }, el('strong', {}, p.title), p.status ? ` (${p.status})` : ''),
    p.detail ? el('p', {}, p.detail) : null,
    p.errors?.length ? el('ul', {}, ...p.errors.map((e) => el('li', {}, el('code', {}, e.path), ` ${e.message}`))) : null,
    p.code ? el('p', { class: 'problem-code' }, 'code ', el('code', {}, p.code)) : null,
  ];
  box.replaceChildren(...parts.filter((n) => n !== null));
  box.hidden = false;
}

/** @param {unknown} err @returns {Problem} */
function asProblem(err) {
  if (err instanceof ProblemError) return err.problem;
  return { type: 'about:blank', title: 'The gateway could not be reached', status: 0, detail: err instanceof Error ? err.message : String(err), code: '' };
}

/**
 * The page's controller: sign-in, the task form, the list, and one open task followed live.
 */
class Console {
  /** @param {HTMLElement} body */
  constructor(body) {
    this.mode = /** @type {'user' | 'operator'} */ (body.dataset.console === 'operator' ? 'operator' : 'user');
    this.api = apiFor(this.mode);
    this.problemBox = byId('problem');
    /** @type {AbortController | undefined} */ this.following = undefined;
    /** @type {string | undefined} */ this.nextCursor = undefined;
    /** @type {any} */ this.task = undefined;
    /** @type {Book} */ this.book = emptyBook(0);
    /** @type {boolean} whether the bar is drawn from the events (a running task) or the books (an ended one) */
    this.live = false;
    /** @type {Map<string, string>} */ this.names = new Map();
    /** @type {Set<string>} stages the story has entered */ this.stagesSeen = new Set();
    /** @type {Map<string, { action: string, reason: string, by: string }>} */ this.decisions = new Map();
    /** @type {Map<string, { movement: string, amount: string }>} */ this.moves = new Map();
    /** @type {number | undefined} */ this.refreshTimer = undefined;
    /** @type {number} */ this.frame = 0;
    /** @type {string | undefined} the task whose end the page has acted on (its report, the list) */ this.endSeenFor = undefined;
  }

  /**
   * A request to the gateway; answers that are not 2xx become a ProblemError (401 signs the user out).
   * @param {string} url
   * @param {RequestInit} [init]
   */
  async request(url, init = {}) {
    const res = await fetch(url, { ...init, headers: { ...this.api.headers(), ...(/** @type {Record<string, string>} */ (init.headers ?? {})) }, cache: 'no-store' });
    if (res.ok) return res;
    const problem = await problemOf(res);
    if (res.status === 401 && this.mode === 'user') this.signOut(problem);
    throw new ProblemError(problem);
  }

  start() {
    if (this.mode === 'operator') {
      const id = document.body.dataset.taskId;
      if (id) void this.open(id, { focus: false });
      return;
    }
    this.wireSignIn();
    this.wireTaskForm();
    byId('sign-out').addEventListener('click', () => this.signOut());
    byId('refresh-tasks').addEventListener('click', () => void this.loadTasks(false));
    byId('more-tasks').addEventListener('click', () => void this.loadTasks(true));
    byId('cancel-task').addEventListener('click', () => void this.cancel());
    byId('task-list').addEventListener('click', (ev) => {
      const link = /** @type {HTMLElement} */ (ev.target).closest('a[data-task]');
      if (!link || ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
      ev.preventDefault();
      this.navigate(/** @type {string} */ (link.getAttribute('data-task')));
    });
    window.addEventListener('popstate', () => {
      const id = taskIdOf(location.pathname);
      if (id) void this.open(id, { focus: true });
      else this.close();
    });
    if (sessionStorage.getItem(KEY_STORE)) void this.enter();
    else this.showSignIn();
  }

  wireSignIn() {
    const form = /** @type {HTMLFormElement} */ (byId('sign-in-form'));
    const input = /** @type {HTMLInputElement} */ (byId('api-key'));
    const button = /** @type {HTMLButtonElement} */ (form.querySelector('button[type="submit"]'));
    // The form cannot be sent without this script (and the CSP's form-action 'none' forbids it anyway).
    button.disabled = false;
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const key = input.value.trim();
      if (!key) {
        showProblem(this.problemBox, { type: 'about:blank', title: 'Enter your API key', status: 0, detail: 'The key the operators gave you (Bearer token of the v1 API).', code: '' });
        input.focus();
        return;
      }
      button.disabled = true;
      try {
        // One cheap read tells whether the gateway takes the key.
        const res = await fetch('/v1/tasks?limit=1', { headers: { authorization: `Bearer ${key}` }, cache: 'no-store' });
        if (!res.ok) throw new ProblemError(await problemOf(res));
        sessionStorage.setItem(KEY_STORE, key);
        input.value = '';
        await this.enter();
      } catch (err) {
        showProblem(this.problemBox, asProblem(err));
        input.focus();
      } finally {
        button.disabled = false;
      }
    });
  }

  showSignIn() {
    byId('sign-in').hidden = false;
    byId('app').hidden = true;
    byId('who').hidden = true;
    byId('sign-out').hidden = true;
    byId('api-key').focus();
  }

  /** @param {Problem} [problem] */
  signOut(problem) {
    sessionStorage.removeItem(KEY_STORE);
    this.following?.abort();
    this.showSignIn();
    showProblem(this.problemBox, problem);
  }

  async enter() {
    const key = sessionStorage.getItem(KEY_STORE) ?? '';
    byId('sign-in').hidden = true;
    byId('app').hidden = false;
    const who = byId('who');
    who.textContent = `Signed in with key …${key.slice(-4)}`;
    who.hidden = false;
    byId('sign-out').hidden = false;
    showProblem(this.problemBox, undefined);
    const id = taskIdOf(location.pathname);
    await Promise.all([this.loadTasks(false), id ? this.open(id, { focus: false }) : Promise.resolve()]);
  }

  wireTaskForm() {
    const form = /** @type {HTMLFormElement} */ (byId('task-form'));
    const button = /** @type {HTMLButtonElement} */ (form.querySelector('button[type="submit"]'));
    /** One idempotency key per filled form: a double click or a retry after a lost answer makes one task. */
    let idempotencyKey = crypto.randomUUID();
    form.addEventListener('input', () => {
      idempotencyKey = crypto.randomUUID();
    });
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearFieldErrors(form);
      const value = (/** @type {string} */ name) => /** @type {HTMLInputElement} */ (form.elements.namedItem(name)).value.trim();
      /** @type {Record<string, unknown>} */
      const body = { theme: value('theme'), budget: value('budget'), voiceId: value('voiceId') };
      const max = value('maxCompanies');
      // Sent as typed: the gateway names a bad value (a whole number is sent as a number).
      if (max !== '') body.maxCompanies = /^\d+$/.test(max) ? Number(max) : max;
      button.disabled = true;
      try {
        const res = await this.request('/v1/tasks', { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': idempotencyKey }, body: JSON.stringify(body) });
        const task = await res.json();
        idempotencyKey = crypto.randomUUID();
        showProblem(this.problemBox, undefined);
        this.navigate(task.id);
        void this.loadTasks(false);
      } catch (err) {
        const problem = asProblem(err);
        showProblem(this.problemBox, problem);
        markFieldErrors(form, problem);
      } finally {
        button.disabled = false;
      }
    });
  }

  /** @param {boolean} more */
  async loadTasks(more) {
    const list = byId('task-list');
    const moreButton = byId('more-tasks');
    try {
      const cursor = more && this.nextCursor ? `&cursor=${encodeURIComponent(this.nextCursor)}` : '';
      const page = await (await this.request(`/v1/tasks?limit=10${cursor}`)).json();
      const items = page.data.map((/** @type {any} */ t) =>
        el(
          'li',
          { 'data-status': t.status },
          el('a', { href: `/console/tasks/${t.id}`, 'data-task': t.id }, t.theme),
          el('span', { class: `badge ${t.status}` }, t.status),
          el('span', { class: 'list-money' }, `${t.budget.spent} of ${t.budget.limit} ${t.budget.currency}`),
          el('time', { datetime: t.createdAt }, when(t.createdAt)),
        ),
      );
      if (more) list.append(...items);
      else list.replaceChildren(...items);
      if (!list.children.length) list.replaceChildren(el('li', { class: 'empty' }, 'No tasks yet: start one above.'));
      this.nextCursor = page.nextCursor;
      moreButton.hidden = !page.nextCursor;
      this.markCurrent();
    } catch (err) {
      showProblem(this.problemBox, asProblem(err));
    }
  }

  markCurrent() {
    const list = document.getElementById('task-list');
    if (!list) return;
    for (const a of list.querySelectorAll('a[data-task]')) {
      if (this.task && a.getAttribute('data-task') === this.task.id) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
  }

  /** @param {string} id */
  navigate(id) {
    const path = `/console/tasks/${encodeURIComponent(id)}`;
    if (location.pathname !== path) history.pushState({ id }, '', path);
    void this.open(id, { focus: true });
  }

  close() {
    this.following?.abort();
    this.task = undefined;
    byId('task').hidden = true;
    this.markCurrent();
  }

  /**
   * Opens a task: its view now (GET), then its story from the first event, live until it ends.
   * @param {string} id
   * @param {{ focus: boolean }} opts
   */
  async open(id, opts) {
    this.following?.abort();
    const following = new AbortController();
    this.following = following;
    this.names = new Map();
    this.stagesSeen = new Set();
    this.decisions = new Map();
    this.moves = new Map();
    byId('events').replaceChildren();
    byId('report').replaceChildren();
    byId('report-section').hidden = true;
    try {
      const task = await (await this.request(this.api.task(id))).json();
      if (following.signal.aborted) return;
      this.task = task;
      this.endSeenFor = ENDED.has(task.status) ? id : undefined;
      for (const c of task.companies) this.names.set(c.id, c.name);
      // A running task's bar is drawn from its payment events, replayed from the first; an ended one's from its books.
      this.live = !ENDED.has(task.status);
      this.book = this.live ? emptyBook(toFen(task.budget.limit)) : bookOf(task.budget);
      byId('task').hidden = false;
      this.render();
      this.markCurrent();
      if (opts.focus) byId('task-title').focus();
      if (task.status === 'completed') void this.loadReport();
      await this.follow(id, following.signal);
    } catch (err) {
      if (!following.signal.aborted) showProblem(this.problemBox, asProblem(err));
    }
  }

  /**
   * Reads the task's story with fetch and a stream reader (EventSource cannot send Authorization),
   * resuming with Last-Event-ID after a cut, until `ended`.
   * @param {string} id
   * @param {AbortSignal} signal
   */
  async follow(id, signal) {
    let last = 0;
    for (let attempt = 0; !signal.aborted; attempt++) {
      // Whether the task had ended before this request: then the server sends the rest of its story and closes.
      const endedBefore = Boolean(this.task && ENDED.has(this.task.status));
      try {
        const res = await this.request(this.api.events(id), { headers: { accept: 'text/event-stream', ...(last ? { 'last-event-id': String(last) } : {}) }, signal });
        if (!res.body) throw new Error('the stream has no body');
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        const parser = new SseParser();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          for (const message of parser.push(value)) {
            const event = /** @type {TaskEvent} */ (JSON.parse(message.data));
            last = event.seq;
            attempt = 0;
            this.onEvent(event);
            if (event.type === 'ended') return;
          }
        }
        // A stream for a task already ended when it was asked for has told the whole story (one from before
        // stories were kept may lack `ended`). Any other stream closed early (a gateway stopping): resume where
        // it stopped — also when the books said meanwhile that the task ended, for the story's last events.
        if (endedBefore) return;
      } catch (err) {
        if (signal.aborted) return;
        if (err instanceof ProblemError && err.problem.status < 500 && err.problem.status !== 429) {
          showProblem(this.problemBox, err.problem);
          return;
        }
        this.say(`Connection lost; reconnecting… (${err instanceof Error ? err.message : String(err)})`);
      }
      await sleep(Math.min(500 * 2 ** attempt, 10_000));
    }
  }

  /** @param {TaskEvent} e */
  onEvent(e) {
    const d = e.data ?? {};
    const task = this.task;
    if (!task) return;
    switch (e.type) {
      case 'stage':
        task.stage = d.stage;
        this.stagesSeen.add(d.stage);
        if (task.status === 'queued') task.status = 'running';
        this.say(`Stage: ${d.stage}`);
        break;
      case 'decision':
        this.names.set(d.companyId, d.name);
        this.decisions.set(d.companyId, { action: d.action, reason: d.reason, by: d.by });
        if (!task.companies.some((/** @type {any} */ c) => c.id === d.companyId)) task.companies.push({ id: d.companyId, name: d.name, price: d.price, status: d.action === 'buy' ? 'found' : 'skipped' });
        this.refreshSoon();
        break;
      case 'payment':
        this.moves.set(d.companyId, { movement: d.movement, amount: d.amount });
        if (this.live) this.book = applyMovement(this.book, d.movement, toFen(d.amount));
        if (d.movement !== 'reserve') this.refreshSoon();
        break;
      case 'cancel_requested':
        task.cancelRequested = true;
        break;
      case 'report_ready':
        this.say('The report is written.');
        break;
      case 'ended': {
        task.status = d.status;
        task.stage = null;
        if (d.error) task.error = d.error;
        // The last word is the books': unless they told the end already, read them once more (final figures, companies).
        if (this.endSeenFor !== task.id) void this.refresh();
        this.onEnded();
        break;
      }
      default:
        break;
    }
    this.appendEvent(e);
    this.renderSoon();
  }

  /** Reads the task's view again shortly (company statuses), at most a few times a second. */
  refreshSoon() {
    if (this.refreshTimer !== undefined) return;
    this.refreshTimer = window.setTimeout(() => {
      this.refreshTimer = undefined;
      void this.refresh();
    }, 300);
  }

  async refresh() {
    const id = this.task?.id;
    if (!id) return;
    try {
      const fresh = await (await this.request(this.api.task(id))).json();
      if (this.task?.id !== id) return;
      // Status and stage come from the story as it is told; the books' figures once the task has ended.
      const told = { status: this.task.status, stage: this.task.stage };
      this.task = { ...fresh, ...(ENDED.has(fresh.status) ? {} : told) };
      for (const c of fresh.companies) this.names.set(c.id, c.name);
      if (ENDED.has(fresh.status)) {
        this.live = false;
        this.book = bookOf(fresh.budget);
        this.onEnded();
      }
      this.renderSoon();
    } catch (err) {
      showProblem(this.problemBox, asProblem(err));
    }
  }

  /**
   * Once per task, when the page first learns the open task ended — from its story's `ended` or from its books,
   * whichever comes first (a refresh can read the books before the stream delivers `ended`): say so, show its
   * report, update the list. (A task already ended when it is opened: open() shows its report.)
   */
  onEnded() {
    const task = this.task;
    if (!task || !ENDED.has(task.status) || this.endSeenFor === task.id) return;
    this.endSeenFor = task.id;
    this.say(`The task ended: ${task.status}.`);
    if (task.status === 'completed') void this.loadReport();
    if (this.mode === 'user') void this.loadTasks(false);
  }

  /** @param {TaskEvent} e */
  appendEvent(e) {
    const list = byId('events');
    list.append(el('li', { 'data-type': e.type, 'data-seq': String(e.seq) }, el('time', { datetime: e.at }, clock(e.at)), ' ', describeEvent(e, this.names)));
    // Keep the newest in view, unless the reader scrolled up to read.
    if (list.scrollHeight - list.scrollTop - list.clientHeight < 80) list.scrollTop = list.scrollHeight;
  }

  /** @param {string} text */
  say(text) {
    byId('live').textContent = text;
  }

  renderSoon() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  /** Draws the open task: status, stages, the budget bar and its figures, the companies, the actions. */
  render() {
    const task = this.task;
    if (!task) return;
    byId('task-title').textContent = task.theme;
    byId('task-id').textContent = task.id;
    const status = byId('task-status');
    status.textContent = task.cancelRequested && !ENDED.has(task.status) ? `${task.status} (cancelling)` : task.status;
    status.className = `badge ${task.status}`;
    const error = byId('task-error');
    error.hidden = !task.error;
    error.textContent = task.error ? `${task.error.code}: ${task.error.message}` : '';

    for (const li of byId('stages').querySelectorAll('li[data-stage]')) {
      const stage = li.getAttribute('data-stage') ?? '';
      const state = stageState(stage, task, this.stagesSeen);
      li.className = state;
      if (state === 'current') li.setAttribute('aria-current', 'step');
      else li.removeAttribute('aria-current');
      const note = li.querySelector('.state');
      if (note) note.textContent = state === 'done' ? 'done' : state === 'current' ? 'now' : '';
    }

    const seg = barSegments(this.book);
    for (const [name, [x, width]] of Object.entries(seg)) {
      const rect = byId(`bar-${name}`);
      rect.setAttribute('x', String(x));
      rect.setAttribute('width', String(width));
    }
    const f = figures(this.book);
    for (const [name, fen] of Object.entries(f)) byId(`fig-${name}`).textContent = formatFen(fen);
    byId('budget-summary').textContent = `Budget ${formatFen(f.limit)} CNY: spent ${formatFen(f.spent)}, reserved ${formatFen(f.reserved)}, refunded ${formatFen(f.refunded)}, remaining ${formatFen(f.remaining)}.`;
    byId('budget-source').textContent = this.live ? 'live, from the payment events' : 'from the books';

    const rows = task.companies.map((/** @type {any} */ c) => {
      const decision = this.decisions.get(c.id) ?? c.decision;
      const move = this.moves.get(c.id);
      return el(
        'tr',
        { 'data-company': c.id },
        el('th', { scope: 'row' }, c.name),
        el('td', { class: 'num' }, c.price),
        el('td', {}, decision ? el('span', { class: `decision ${decision.action}` }, decision.action) : '', decision ? ` ${decision.reason}` : ''),
        el('td', { class: 'money' }, move ? `${moneyLabel(move.movement)} ${move.amount}` : ''),
        el('td', {}, el('span', { class: `badge ${c.status}` }, c.status)),
      );
    });
    byId('companies').replaceChildren(...(rows.length ? rows : [el('tr', {}, el('td', { colspan: '5', class: 'empty' }, 'No companies yet.'))]));

    const cancel = /** @type {HTMLButtonElement | null} */ (document.getElementById('cancel-task'));
    if (cancel) {
      cancel.hidden = ENDED.has(task.status);
      cancel.disabled = Boolean(task.cancelRequested);
    }
  }

  async cancel() {
    const task = this.task;
    if (!task) return;
    const button = /** @type {HTMLButtonElement} */ (byId('cancel-task'));
    button.disabled = true;
    try {
      await this.request(`/v1/tasks/${encodeURIComponent(task.id)}/cancel`, { method: 'POST' });
      task.cancelRequested = true;
      this.say('Cancel requested: the next stage stops the task and releases what is reserved.');
      this.renderSoon();
    } catch (err) {
      button.disabled = false;
      showProblem(this.problemBox, asProblem(err));
    }
  }

  /** Reads the report as the server renders and sanitises it, and shows its body here. */
  async loadReport() {
    const task = this.task;
    if (!task) return;
    try {
      const html = await (await this.request(this.api.report(task.id), { headers: { accept: 'text/html' } })).text();
      if (this.task?.id !== task.id) return;
      // Only the page's <main>: its head holds a <style> this page's CSP would refuse. The body is sanitised
      // (no <main> can be inside it), so the first <main> and the last </main> are the page's own.
      const start = html.indexOf('<main>');
      const end = html.lastIndexOf('</main>');
      if (start < 0 || end < start) throw new Error('the report page has no <main>');
      const template = document.createElement('template');
      template.innerHTML = reportPolicy.createHTML(html.slice(start + '<main>'.length, end));
      byId('report').replaceChildren(template.content);
      byId('report-section').hidden = false;
      const download = /** @type {HTMLButtonElement} */ (byId('download-report'));
      download.onclick = () => void this.downloadReport(task.id);
    } catch (err) {
      showProblem(this.problemBox, asProblem(err));
    }
  }

  /** @param {string} id */
  async downloadReport(id) {
    try {
      const markdown = await (await this.request(this.api.report(id), { headers: { accept: 'text/markdown' } })).blob();
      const url = URL.createObjectURL(markdown);
      const a = el('a', { href: url, download: `report-${id}.md` });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (err) {
      showProblem(this.problemBox, asProblem(err));
    }
  }
}

/**
 * Where a stage stands: `current` while the task is in it, `done` once the story has gone past it (or the
 * task completed), else `todo`.
 * @param {string} stage
 * @param {{ status: string, stage: string | null }} task
 * @param {Set<string>} seen stages the story has entered
 * @returns {'done' | 'current' | 'todo'}
 */
export function stageState(stage, task, seen) {
  if (task.stage === stage && !ENDED.has(task.status)) return 'current';
  if (task.status === 'completed') return 'done';
  const i = STAGES.indexOf(/** @type {any} */ (stage));
  const at = task.stage ? STAGES.indexOf(/** @type {any} */ (task.stage)) : -1;
  return seen.has(stage) && (at < 0 || i < at) ? 'done' : 'todo';
}

/** @param {{ limit: string, reserved: string, spent: string, refunded: string, released?: string }} b @returns {Book} */
function bookOf(b) {
  const refunded = toFen(b.refunded);
  return { limit: toFen(b.limit), reserved: toFen(b.reserved), captured: toFen(b.spent) + refunded, released: b.released ? toFen(b.released) : 0, refunded };
}

/** The task id in a console path, if any. @param {string} path */
function taskIdOf(path) {
  const m = /^\/console\/tasks\/([^/]+)\/?$/.exec(path);
  return m ? decodeURIComponent(m[1] ?? '') : undefined;
}

/** @param {HTMLFormElement} form */
function clearFieldErrors(form) {
  for (const input of form.querySelectorAll('[aria-invalid]')) input.removeAttribute('aria-invalid');
  for (const note of form.querySelectorAll('.field-error')) {
    note.textContent = '';
    /** @type {HTMLElement} */ (note).hidden = true;
  }
}

/**
 * Marks each field a problem names (its `errors[].path`) and puts the message under it; focuses the first.
 * @param {HTMLFormElement} form
 * @param {Problem} problem
 */
function markFieldErrors(form, problem) {
  /** @type {HTMLElement | undefined} */
  let first;
  for (const e of problem.errors ?? []) {
    const input = form.elements.namedItem(e.path.split('.')[0] ?? '');
    if (!(input instanceof HTMLElement)) continue;
    input.setAttribute('aria-invalid', 'true');
    const note = form.querySelector(`#${input.id}-error`);
    if (note) {
      note.textContent = e.message;
      /** @type {HTMLElement} */ (note).hidden = false;
    }
    first ??= input;
  }
  first?.focus();
}

if (typeof document !== 'undefined' && document.body?.dataset.console) new Console(document.body).start();
