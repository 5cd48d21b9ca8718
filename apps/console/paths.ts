/** Where the tenant's console is served (GET /console, /console/tasks/:id). */
export const CONSOLE_PATH = '/console';

/** The console's static files: one stylesheet, one module script, an icon — all from this origin. */
export const ASSET_PATHS = {
  css: `${CONSOLE_PATH}/console.css`,
  js: `${CONSOLE_PATH}/console.js`,
  icon: `${CONSOLE_PATH}/icon.svg`,
} as const;

/** The operators' read-only console page of any tenant's task: `${OPERATOR_CONSOLE_PATH}/<task id>`. */
export const OPERATOR_CONSOLE_PATH = '/admin/console/tasks';

/** The operators' read-only task API the page reads (any tenant): `${OPERATOR_TASKS_PATH}/<id>`, `…/events`, `…/report`. */
export const OPERATOR_TASKS_PATH = '/admin/tasks';

/** The console page of a task, for the tenant; the operators' one for an operator. */
export const consoleTaskPath = (id: string) => `${CONSOLE_PATH}/tasks/${encodeURIComponent(id)}`;
export const operatorTaskPath = (id: string) => `${OPERATOR_CONSOLE_PATH}/${encodeURIComponent(id)}`;
