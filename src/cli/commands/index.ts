// Every command of ocpm, in the order `ocpm --help` lists them.
import type { Command } from '../command.js';
import { instancesCommand, restartInstanceCommand } from './instances.js';
import { answerCommand, pendingCommand } from './requests.js';
import { abortCommand, resetCommand, sessionCommand, sessionsCommand } from './sessions.js';
import { statusCommand } from './status.js';
import { usageCommand } from './usage.js';

export const COMMANDS: readonly Command[] = [
  statusCommand,
  sessionsCommand,
  sessionCommand,
  abortCommand,
  resetCommand,
  pendingCommand,
  answerCommand,
  instancesCommand,
  restartInstanceCommand,
  usageCommand,
];

export function findCommand(name: string): Command | undefined {
  return COMMANDS.find((command) => command.name === name);
}
