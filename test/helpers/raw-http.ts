import { connect, type Socket } from 'node:net';

/**
 * HTTP/1.1 by hand, for what fetch cannot do: send a request on a connection that is already
 * busy (pipelining), e.g. to reach a server that has stopped accepting new connections.
 */

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export function openSocket(port: number, host = '127.0.0.1'): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, host, () => resolve(socket));
    socket.once('error', reject);
  });
}

export function rawGet(path: string, token?: string): string {
  return `GET ${path} HTTP/1.1\r\nHost: tinkr\r\n${token ? `Authorization: Bearer ${token}\r\n` : ''}\r\n`;
}

/** Every response the socket receives until it closes (bodies framed by content-length). */
export function readResponses(socket: Socket): Promise<RawResponse[]> {
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  return new Promise((resolve, reject) => {
    socket.on('error', reject);
    socket.on('close', () => {
      let rest = Buffer.concat(chunks);
      const out: RawResponse[] = [];
      while (rest.length > 0) {
        const end = rest.indexOf('\r\n\r\n');
        if (end < 0) break;
        const [statusLine, ...lines] = rest.subarray(0, end).toString('latin1').split('\r\n');
        const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
        const length = Number(headers['content-length'] ?? 0);
        out.push({ status: Number(statusLine!.split(' ')[1]), headers, body: rest.subarray(end + 4, end + 4 + length).toString('utf8') });
        rest = rest.subarray(end + 4 + length);
      }
      resolve(out);
    });
  });
}
