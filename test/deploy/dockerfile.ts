// Reads the project's Dockerfile with dockerfile-ast: the runtime stage (after the last FROM) and
// the facts other tests compare with the manifests (EXPOSE, USER).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DockerfileParser, type Instruction } from 'dockerfile-ast';
import { PROJECT_ROOT } from '../helpers/fixtures.js';

export const DOCKERFILE = path.join(PROJECT_ROOT, 'Dockerfile');

export function readDockerfile(): string {
  return readFileSync(DOCKERFILE, 'utf8');
}

/** Instructions of the final (runtime) stage, in order. */
export function runtimeStage(content = readDockerfile()): Instruction[] {
  const dockerfile = DockerfileParser.parse(content);
  const froms = dockerfile.getFROMs();
  const last = froms[froms.length - 1];
  if (last === undefined) throw new Error('The Dockerfile has no FROM');
  const fromLine = last.getRange().start.line;
  return dockerfile.getInstructions().filter((i) => i.getRange().start.line >= fromLine);
}

export function argumentsOf(stage: Instruction[], keyword: string): string[][] {
  return stage.filter((i) => i.getKeyword() === keyword).map((i) => i.getArguments().map((a) => a.getValue()));
}

/** The EXPOSEd TCP ports of the runtime stage. */
export function exposedPorts(stage = runtimeStage()): number[] {
  return argumentsOf(stage, 'EXPOSE')
    .flat()
    .map((p) => Number(p.replace(/\/tcp$/, '')));
}

/** The last USER of the runtime stage (the user the container runs as), or undefined. */
export function runtimeUser(stage = runtimeStage()): string | undefined {
  return argumentsOf(stage, 'USER').at(-1)?.[0];
}
