/** @jsxImportSource hono/jsx */
import type { Child, FC } from 'hono/jsx';
import { raw } from 'hono/html';
import { barSegments, toFen } from './assets/console.js';
import { ASSET_PATHS, CONSOLE_PATH } from './paths.ts';

/**
 * The console's pages, rendered on the server with hono/jsx (every value escaped by it). They hold no
 * inline script or style: the look is one stylesheet, the behaviour one module script (assets/), both
 * from this origin, as the CSP (csp.ts) demands. What depends on the signed-in tenant is filled in by the
 * script; the operators' view of a task is rendered here whole, so it reads even before the script runs.
 */

const STAGES = ['search', 'authorize', 'detail', 'report'] as const;
const STAGE_NOTES: Record<(typeof STAGES)[number], string> = {
  search: 'free searches, choosing what to buy',
  authorize: 'voice check, payment token',
  detail: 'buying records',
  report: 'writing the report, settling the money',
};

/** A task as the pages show it: the v1 task view (apps/gateway/view.ts), plus its tenant in the operators' view. */
export interface TaskSnapshot {
  id: string;
  theme: string;
  status: string;
  stage: string | null;
  tenant?: string;
  budget: { limit: string; reserved: string; spent: string; refunded: string; remaining: string; currency: string };
  companies: Array<{ id: string; name: string; price: string; status: string; decision?: { action: string; reason: string; by: string } }>;
  error?: { code: string; message: string | null };
  cancelRequested?: boolean;
  createdAt: string;
}

/** The bar's segments on 0–1000 for a task's books: the script's own arithmetic (assets/console.js), so both draw the same. */
export function barOf(b: TaskSnapshot['budget']) {
  const refunded = toFen(b.refunded);
  return barSegments({ limit: toFen(b.limit), reserved: toFen(b.reserved), captured: toFen(b.spent) + refunded, released: 0, refunded });
}

const Layout: FC<{ title: string; mode: 'user' | 'operator'; taskId?: string; children?: Child }> = ({ title, mode, taskId, children }) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <meta name="color-scheme" content="light dark" />
      <meta name="referrer" content="no-referrer" />
      <title>{title}</title>
      <link rel="icon" type="image/svg+xml" href={ASSET_PATHS.icon} />
      <link rel="stylesheet" href={ASSET_PATHS.css} />
      <script type="module" src={ASSET_PATHS.js}></script>
    </head>
    <body data-console={mode} data-task-id={taskId}>
      <a class="skip" href="#main">
        Skip to content
      </a>
      {children}
    </body>
  </html>
);

const Stages: FC<{ task?: TaskSnapshot }> = ({ task }) => (
  <ol id="stages" class="stages" aria-label="Stages">
    {STAGES.map((s) => {
      const current = task?.stage === s;
      const done = task?.status === 'completed' || (task?.stage ? STAGES.indexOf(task.stage as (typeof STAGES)[number]) > STAGES.indexOf(s) : false);
      return (
        <li data-stage={s} class={current ? 'current' : done ? 'done' : 'todo'} aria-current={current ? 'step' : undefined}>
          <span class="stage-name">{s}</span> <span class="stage-note">{STAGE_NOTES[s]}</span> <span class="state">{current ? 'now' : done ? 'done' : ''}</span>
        </li>
      );
    })}
  </ol>
);

const FIGURES = [
  ['spent', 'Spent'],
  ['reserved', 'Reserved'],
  ['refunded', 'Refunded'],
  ['remaining', 'Remaining'],
  ['limit', 'Budget'],
] as const;

const Budget: FC<{ task?: TaskSnapshot }> = ({ task }) => {
  const zero = { limit: '0.00', reserved: '0.00', spent: '0.00', refunded: '0.00', remaining: '0.00', currency: 'CNY' };
  const b = task?.budget ?? zero;
  const seg = barOf(b);
  return (
    <section class="budget" aria-labelledby="budget-title">
      <h3 id="budget-title">
        Budget <span class="muted">(CNY, <span id="budget-source">from the books</span>)</span>
      </h3>
      <svg id="budget-bar" class="bar" viewBox="0 0 1000 28" preserveAspectRatio="none" role="img" aria-labelledby="budget-summary">
        <rect class="track" x="0" y="0" width="1000" height="28" />
        {(['spent', 'reserved', 'refunded', 'free'] as const).map((k) => (
          <rect id={`bar-${k}`} class={`seg ${k}`} x={String(seg[k][0])} y="0" width={String(seg[k][1])} height="28" />
        ))}
      </svg>
      <p id="budget-summary" class="sr-only">
        Budget {b.limit} CNY: spent {b.spent}, reserved {b.reserved}, refunded {b.refunded}, remaining {b.remaining}.
      </p>
      <dl class="figures">
        {FIGURES.map(([k, label]) => (
          <div class={`figure ${k}`}>
            <dt>
              <span class="swatch" aria-hidden="true"></span>
              {label}
            </dt>
            <dd id={`fig-${k}`}>{b[k]}</dd>
          </div>
        ))}
      </dl>
      <p class="note">Refunded money is back in the remaining budget; it is drawn apart so you can see it.</p>
    </section>
  );
};

/** The task's panel: server-filled in the operators' view, filled by the script in the tenant's console. */
const TaskPanel: FC<{ task?: TaskSnapshot; reportHtml?: string; mode: 'user' | 'operator' }> = ({ task, reportHtml, mode }) => (
  <section id="task" class="task panel" aria-labelledby="task-title" hidden={!task}>
    <header class="task-head">
      <h2 id="task-title" tabindex={-1}>
        {task?.theme ?? ''}
      </h2>
      <p class="meta">
        <span id="task-status" class={`badge ${task?.status ?? ''}`}>
          {task?.status ?? ''}
        </span>{' '}
        <code id="task-id">{task?.id ?? ''}</code>
        {mode === 'operator' && task?.tenant !== undefined ? (
          <>
            {' '}
            · tenant <strong id="task-tenant">{task.tenant}</strong>
          </>
        ) : null}
      </p>
      <p id="task-error" class="error-line" hidden={!task?.error}>
        {task?.error ? `${task.error.code}: ${task.error.message ?? ''}` : ''}
      </p>
      {mode === 'user' ? (
        <div class="actions">
          <button id="cancel-task" type="button" class="danger" hidden>
            Cancel task
          </button>
        </div>
      ) : null}
    </header>
    <p id="live" class="live" aria-live="polite"></p>
    <Stages task={task} />
    <Budget task={task} />
    <section class="companies" aria-labelledby="companies-title">
      <h3 id="companies-title">Companies</h3>
      <div class="scroll" tabindex={0} role="region" aria-labelledby="companies-title">
        <table>
          <thead>
            <tr>
              <th scope="col">Company</th>
              <th scope="col" class="num">
                Price
              </th>
              <th scope="col">Decision</th>
              <th scope="col">Money</th>
              <th scope="col">Status</th>
            </tr>
          </thead>
          <tbody id="companies">
            {task?.companies.length ? (
              task.companies.map((c) => (
                <tr data-company={c.id}>
                  <th scope="row">{c.name}</th>
                  <td class="num">{c.price}</td>
                  <td>
                    {c.decision ? <span class={`decision ${c.decision.action}`}>{c.decision.action}</span> : null}
                    {c.decision ? ` ${c.decision.reason}` : ''}
                  </td>
                  <td class="money"></td>
                  <td>
                    <span class={`badge ${c.status}`}>{c.status}</span>
                  </td>
                </tr>
              ))
            ) : (
              <tr>
                <td colspan={5} class="empty">
                  No companies yet.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
    </section>
    <section class="story" aria-labelledby="events-title">
      <h3 id="events-title">Live events</h3>
      <ol id="events" class="events" tabindex={0} aria-labelledby="events-title"></ol>
    </section>
    <section id="report-section" class="report-section" aria-labelledby="report-title" hidden={reportHtml === undefined}>
      <div class="report-head">
        <h3 id="report-title">Report</h3>
        <button id="download-report" type="button">
          Download markdown
        </button>
      </div>
      {/* The server's own rendering (shared/report/html.ts: markdown-it without raw HTML, then sanitize-html). */}
      <article id="report" class="report">
        {reportHtml !== undefined ? raw(reportHtml) : null}
      </article>
    </section>
  </section>
);

/**
 * The tenant's console (GET /console, /console/tasks/:id): sign-in, the task form, the list and the open
 * task. Nothing here depends on who is signed in; the script fills it with the key in sessionStorage.
 */
export function consolePage(taskId?: string) {
  return (
    <Layout title="Research console · agent-research-pay" mode="user" taskId={taskId}>
      <header class="top">
        <a class="brand" href={CONSOLE_PATH}>
          Research console
        </a>
        <nav class="who" aria-label="Account">
          <span id="who" hidden></span>
          <button id="sign-out" type="button" hidden>
            Sign out
          </button>
        </nav>
      </header>
      <main id="main" tabindex={-1}>
        <noscript>
          <p class="problem">This console needs JavaScript: it reads the API with your key from this tab only.</p>
        </noscript>
        <div id="problem" class="problem" role="alert" hidden></div>
        <section id="sign-in" class="panel sign-in" aria-labelledby="sign-in-title">
          <h1 id="sign-in-title">Sign in</h1>
          <p>
            Your API key stays in this browser tab (session storage): it is sent only in the <code>Authorization</code> header of this
            gateway's API, never in an address or a cookie, and it is gone when the tab closes.
          </p>
          <form id="sign-in-form" class="form" autocomplete="off">
            <label for="api-key">API key</label>
            <input id="api-key" type="password" autocomplete="off" spellcheck={false} required />
            <button type="submit" class="primary" disabled>
              Sign in
            </button>
          </form>
        </section>
        <div id="app" class="layout" hidden>
          <div class="side">
            <section class="panel" aria-labelledby="new-task-title">
              <h2 id="new-task-title">New research task</h2>
              <form id="task-form" class="form" novalidate>
                <label for="theme">Theme</label>
                <input id="theme" name="theme" maxlength={500} required placeholder="solid-state battery makers" aria-describedby="theme-error" />
                <p id="theme-error" class="field-error" hidden></p>
                <div class="row">
                  <div>
                    <label for="budget">Budget (CNY)</label>
                    <input id="budget" name="budget" inputmode="decimal" required placeholder="50.00" aria-describedby="budget-error" />
                    <p id="budget-error" class="field-error" hidden></p>
                  </div>
                  <div>
                    <label for="maxCompanies">Max companies</label>
                    <input id="maxCompanies" name="maxCompanies" type="number" min={1} max={20} value="5" aria-describedby="maxCompanies-error" />
                    <p id="maxCompanies-error" class="field-error" hidden></p>
                  </div>
                </div>
                <label for="voiceId">Voice ID</label>
                <input id="voiceId" name="voiceId" required autocomplete="off" placeholder="demo-voice" aria-describedby="voiceId-error" />
                <p id="voiceId-error" class="field-error" hidden></p>
                <button type="submit" class="primary">
                  Start research
                </button>
              </form>
            </section>
            <section class="panel" aria-labelledby="tasks-title">
              <div class="list-head">
                <h2 id="tasks-title">Your tasks</h2>
                <button id="refresh-tasks" type="button">
                  Refresh
                </button>
              </div>
              <ul id="task-list" class="task-list"></ul>
              <button id="more-tasks" type="button" hidden>
                Load more
              </button>
            </section>
          </div>
          <TaskPanel mode="user" />
        </div>
      </main>
    </Layout>
  );
}

/**
 * The operators' read-only view of any tenant's task (GET /admin/console/tasks/:id): the same panel, rendered
 * whole from the books, then followed live by the script through the operators' routes.
 */
export function operatorTaskPage(task: TaskSnapshot, reportHtml: string | undefined, dashboardPath: string) {
  return (
    <Layout title={`Task ${task.id} · operator view · agent-research-pay`} mode="operator" taskId={task.id}>
      <header class="top">
        <a class="brand" href={dashboardPath}>
          ← Budget dashboard
        </a>
        <nav class="who" aria-label="Account">
          <span>Operator view (read-only)</span>
        </nav>
      </header>
      <main id="main" tabindex={-1}>
        <div id="problem" class="problem" role="alert" hidden></div>
        <div class="layout single">
          <TaskPanel task={task} reportHtml={reportHtml} mode="operator" />
        </div>
      </main>
    </Layout>
  );
}
