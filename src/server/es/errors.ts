/** An Elasticsearch-style failure: the HTTP status, the error `type` clients branch on, and the reason. */
export class EsError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    readonly extra: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
  }

  body(): Record<string, unknown> {
    const cause = { type: this.type, reason: this.message, ...this.extra };
    return { error: { root_cause: [cause], ...cause }, status: this.status };
  }
}

export const badRequest = (type: string, reason: string): EsError => new EsError(400, type, reason);
export const parsingError = (reason: string): EsError => new EsError(400, 'parsing_exception', reason);
export const indexNotFound = (index: string): EsError => new EsError(404, 'index_not_found_exception', `no such index [${index}]`, { 'resource.type': 'index_or_alias', 'resource.id': index, index });
