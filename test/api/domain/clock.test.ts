/** Each host's clock against the API's (api/domain/clock.ts), with literals. */
import { describe, expect, it } from 'vitest';
import { CLOCK_APPLY_S, clockShifts, shiftGroups } from '../../../api/domain/clock.js';
import { latestRecords } from '../../../api/domain/measure.js';
import { hostRecord } from '../harness.js';

describe('clock shifts', () => {
  const records = latestRecords([
    hostRecord('ahead', { clockOffsetS: 300.2 }),
    hostRecord('behind', { clockOffsetS: -299.9 }),
    hostRecord('close', { clockOffsetS: 0.3 }),
    hostRecord('silent', { clockOffsetS: null }),
  ]);

  it('reads a host in its own clock where it is off the API’s by more than the estimates can tell, by host minus API', () => {
    const s = clockShifts(['ahead', 'behind', 'close', 'silent', 'no-record'], records, { offsetS: 0.2, errorS: 0.05 });
    expect(s.applied).toEqual({ ahead: 300, behind: -300.1 });
    expect([...s.shiftMs]).toEqual([
      ['ahead', 300_000],
      ['behind', -300_100],
    ]);
    // an offset its record does not give cannot be applied: named; a host with no record is read as it is
    expect(s.unknown).toEqual(['silent']);
    expect(CLOCK_APPLY_S).toBe(0.5);
  });

  it('an API as far off as its hosts reads them as they are: what counts is host minus API', () => {
    const s = clockShifts(['ahead'], latestRecords([hostRecord('ahead', { clockOffsetS: 300.2 })]), { offsetS: 300, errorS: 0.05 });
    expect(s.applied).toEqual({});
  });

  it('two clocks that agree are never read apart, however young their estimates: a shift needs more than the two errors together', () => {
    // one answer each, a second-wide interval: the collector's put at −0.45 ± 0.5 s, the API's at
    // +0.4 ± 0.5 s, both holding the truth (0): 0.85 s apart, not to be applied
    const young = latestRecords([hostRecord('young', { clockOffsetS: -0.45, clockOffsetErrorS: 0.5 })]);
    expect(clockShifts(['young'], young, { offsetS: 0.4, errorS: 0.5 }).applied).toEqual({});
    // the same 0.85 s told by narrow estimates is a real offset
    const narrow = latestRecords([hostRecord('narrow', { clockOffsetS: -0.45, clockOffsetErrorS: 0.02 })]);
    expect(clockShifts(['narrow'], narrow, { offsetS: 0.4, errorS: 0.03 }).applied).toEqual({ narrow: -0.85 });
    // and 300 s is 300 s, whatever the errors
    const far = latestRecords([hostRecord('far', { clockOffsetS: 300.4, clockOffsetErrorS: 0.5 })]);
    expect(clockShifts(['far'], far, { offsetS: 0.4, errorS: 0.5 }).applied).toEqual({ far: 300 });
  });

  it('groups the hosts by the shift their window is read with', () => {
    const s = clockShifts(['ahead', 'close', 'behind', 'no-record'], records, { offsetS: 0, errorS: 0 });
    expect(shiftGroups(['ahead', 'close', 'behind', 'no-record'], s)).toEqual([
      { shiftMs: -299_900, hosts: ['behind'] },
      { shiftMs: 0, hosts: ['close', 'no-record'] },
      { shiftMs: 300_200, hosts: ['ahead'] },
    ]);
  });
});
