/**
 * The CLI's registry (cli/commands.ts) names each command and says what it does; the command's
 * module is loaded only when it runs. Each entry must load the command it names.
 */
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../cli/commands.js';

describe('the CLI registry', () => {
  it('loads, for each name, the command of that name, with its usage', async () => {
    expect(new Set(COMMANDS.map((c) => c.name)).size).toBe(COMMANDS.length);
    for (const entry of COMMANDS) {
      const command = await entry.load();
      expect(command.name).toBe(entry.name);
      expect(command.usage).toMatch(new RegExp(`wattscope ${entry.name}`));
      expect(entry.summary.length).toBeGreaterThan(10);
    }
  });
});
