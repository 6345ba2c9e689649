/** An error with the HTTP status it maps to; the message says what to do. */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export const notFound = (runId: string) => new ApiError(404, `no run with run_id "${runId}"`);
