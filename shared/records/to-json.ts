import type { Capture, HttpRequest, HttpResponse, Result } from './types.js';

/** Body bytes as text when they are printable UTF-8, else base64: what a person reading JSON lines wants. */
export function bodyToJson(body: Buffer): { text: string } | { base64: string } {
  const text = body.toString('utf8');
  const printable = !text.includes('\uFFFD') && !/[\u0000-\u0008\u000E-\u001F]/.test(text);
  return printable ? { text } : { base64: body.toString('base64') };
}

function messageToJson<M extends HttpRequest | HttpResponse>(message: M): Omit<M, 'body'> & { body: ReturnType<typeof bodyToJson> } {
  return { ...message, body: bodyToJson(message.body) };
}

export function captureToJson(capture: Capture): object {
  return {
    ...capture,
    request: messageToJson(capture.request),
    response: capture.response && messageToJson(capture.response),
  };
}

export function resultToJson(result: Result): object {
  return { ...result, response: result.response && messageToJson(result.response) };
}
