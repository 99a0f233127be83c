// Reading a V8 .cpuprofile (node --cpu-prof): its shape, and the short names
// the profile summaries print for frames and files.
import { readFileSync } from 'node:fs';

export interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
export interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
export interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Parses a .cpuprofile file. */
export function readProfile(file: string): Profile {
  return JSON.parse(readFileSync(file, 'utf8')) as Profile;
}

/** A script URL shortened to node_modules/… or src/… and bench/…. */
export const shortUrl = (u: string): string => u.replace(/^file:\/\//, '').replace(/^.*\/node_modules\//, 'node_modules/').replace(/^.*\/(src|bench)\//, '$1/');

/** "function file:line" of a frame ("(anonymous)" for an unnamed function; no place for native frames). */
export const frameName = (f: CallFrame): string => `${f.functionName || '(anonymous)'}${f.url ? ` ${shortUrl(f.url)}:${f.lineNumber + 1}` : ''}`;
