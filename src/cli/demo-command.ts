import type { Command } from "commander";
import type { Action } from "./program.js";
export function demoCommand(_program: Command, _set: (a: Action) => void): void {}
