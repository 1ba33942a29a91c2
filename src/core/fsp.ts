/**
 * The file operations the intake and the stores use, as promises over node:fs's callback API.
 * Not node:fs/promises: loading it (with the streams and readline it brings) costs every
 * deliver a few milliseconds, and deliver runs once per message. The callbacks run in the same
 * libuv thread pool, so nothing here blocks the event loop either. Same names and meanings as
 * node:fs/promises, for the subset sealpost needs.
 */
import * as fs from "node:fs";
import { errnoOf } from "./errors.js";

type Callback<T> = (err: NodeJS.ErrnoException | null, value: T) => void;

function call<T>(fn: (cb: Callback<T>) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    fn((err, value) => (err ? reject(err) : resolve(value)));
  });
}

/** For the calls whose callback carries only an error. */
function done(fn: (cb: (err: NodeJS.ErrnoException | null) => void) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    fn((err) => (err ? reject(err) : resolve()));
  });
}

export const stat = (path: string): Promise<fs.Stats> => call((cb) => fs.stat(path, cb));
export const lstat = (path: string): Promise<fs.Stats> => call((cb) => fs.lstat(path, cb));
export const readdir = (path: string): Promise<string[]> => call((cb) => fs.readdir(path, cb));
export const unlink = (path: string): Promise<void> => done((cb) => fs.unlink(path, cb));
/**
 * unlink(2) now, on this thread, and nothing if the file is already gone. For the one place where
 * the moment counts: a relayed spool entry must be gone as soon as its 250 is in, and the thread
 * pool may be busy for tens of milliseconds with other entries' fsyncs. An unlink takes
 * microseconds, and no kill of this process can undo one made.
 */
export function unlinkNow(path: string): void {
  try {
    fs.unlinkSync(path);
  } catch (err) {
    if (errnoOf(err) !== "ENOENT") throw err;
  }
}
export const rename = (from: string, to: string): Promise<void> => done((cb) => fs.rename(from, to, cb));
export const link = (from: string, to: string): Promise<void> => done((cb) => fs.link(from, to, cb));
export const chmod = (path: string, mode: number): Promise<void> => done((cb) => fs.chmod(path, mode, cb));
export const chown = (path: string, uid: number, gid: number): Promise<void> => done((cb) => fs.chown(path, uid, gid, cb));
export const access = (path: string, mode?: number): Promise<void> => done((cb) => fs.access(path, mode, cb));
export const utimes = (path: string, atime: Date, mtime: Date): Promise<void> => done((cb) => fs.utimes(path, atime, mtime, cb));
export const mkdir = (path: string, options: fs.MakeDirectoryOptions): Promise<void> => done((cb) => fs.mkdir(path, options, cb));

export function readFile(path: string): Promise<Buffer>;
export function readFile(path: string, encoding: BufferEncoding): Promise<string>;
export function readFile(path: string, encoding?: BufferEncoding): Promise<Buffer | string> {
  return call((cb) => (encoding ? fs.readFile(path, encoding, cb) : fs.readFile(path, cb)));
}

export const writeFile = (path: string, data: string | Uint8Array, options: fs.WriteFileOptions = {}): Promise<void> =>
  done((cb) => fs.writeFile(path, data, options, cb));

/** An open file, as node:fs/promises' FileHandle for what sealpost does with one. */
export class FileHandle {
  constructor(readonly fd: number) {}

  stat(): Promise<fs.Stats> {
    return call((cb) => fs.fstat(this.fd, cb));
  }

  read(buffer: Buffer, offset: number, length: number, position: number | null): Promise<{ bytesRead: number }> {
    return call((cb) => fs.read(this.fd, buffer, offset, length, position, (e, bytesRead) => cb(e, { bytesRead })));
  }

  /** All of `data`, at the file's current offset (O_APPEND: its end). */
  async writeFile(data: string | Uint8Array): Promise<void> {
    const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    for (let done = 0; done < bytes.length;) {
      done += await call<number>((cb) => fs.write(this.fd, bytes, done, bytes.length - done, null, cb));
    }
  }

  sync(): Promise<void> {
    return done((cb) => fs.fsync(this.fd, cb));
  }

  utimes(atime: Date, mtime: Date): Promise<void> {
    return done((cb) => fs.futimes(this.fd, atime, mtime, cb));
  }

  truncate(length: number): Promise<void> {
    return done((cb) => fs.ftruncate(this.fd, length, cb));
  }

  close(): Promise<void> {
    return done((cb) => fs.close(this.fd, cb));
  }
}

export async function open(path: string, flags: string | number, mode?: number): Promise<FileHandle> {
  return new FileHandle(await call<number>((cb) => fs.open(path, flags, mode, cb)));
}
