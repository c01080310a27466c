// Reads a JSON-lines record file of the fake opencode; [] while it does not exist yet.
import { readFile } from 'node:fs/promises';

export async function readJsonLines(file: string): Promise<Array<Record<string, any>>> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text
    .trim()
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, any>);
}
