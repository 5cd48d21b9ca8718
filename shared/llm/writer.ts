/** What the analysis writer gets: the theme and the facts bought. */
export interface AnalysisInput {
  theme: string;
  companies: Array<{ id: string; name: string; industry: string; city: string; detail: Record<string, unknown> }>;
  skipped: number;
}

/** Writes the analysis part of a report (our code writes the bought facts and the purchases table). */
export interface AnalysisWriter {
  /** `offline` or `llm:<model>`, recorded with the report. */
  readonly name: string;
  write(input: AnalysisInput, signal?: AbortSignal): Promise<string>;
}
