/** Sensor text and numbers as input: what the readers of collector/sysfs.ts make of what drivers (and broken ones) write. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AttributeReader, numberProblem, readNumber, readSensorText, readTrimmed, sensorText } from '../../collector/sysfs.js';
import { testdata } from './fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'wattscope-sysfs-'));
const file = (name: string, content: string | Buffer) => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};

describe('sensor text', () => {
  it('is cut at its first NUL or newline, as the real NUL-padded amdgpu name is', () => {
    // the RX 7900 XTX capture: "amdgpu\n" and NULs to the page's end
    const name = testdata('hwmon', 'rx7900xtx', 'sys/devices/pci0000:00/0000:00:01.1/0000:03:00.0/hwmon/hwmon8/name');
    expect(readSensorText(name)).toEqual({ text: 'amdgpu' });
    expect(sensorText('amdgpu\u0000\u0000garbage')).toEqual({ text: 'amdgpu' });
    expect(sensorText('  card \n pkg')).toEqual({ text: 'card' });
  });

  it('is refused, with why, when it holds control characters, bytes that are not text, a trailing backslash, or too much', () => {
    expect(sensorText('amd\u0007gpu').problem).toMatch(/control characters/);
    expect(sensorText('amd\tgpu').problem).toMatch(/control characters/);
    expect(readSensorText(file('latin', Buffer.from([0x61, 0xff, 0xfe, 0x62])))?.problem).toMatch(/not text/);
    expect(sensorText('pkg\\').problem).toMatch(/backslash/);
    expect(sensorText('x'.repeat(129)).problem).toMatch(/longer than 128/);
    expect(sensorText('\u0000amdgpu').problem).toMatch(/empty/);
    expect(readSensorText(file('huge', 'a'.repeat(1_000_000)))?.problem).toMatch(/not a sysfs attribute/);
    expect(readSensorText(join(dir, 'absent'))).toBeUndefined();
    expect(readTrimmed(file('bell', 'Disch\u0007arging\n'))).toBeUndefined();
  });
});

describe('sensor numbers', () => {
  it('are plain decimals, cut at a NUL or newline', () => {
    expect(readNumber(file('n1', '68000000\n'))).toBe(68_000_000);
    expect(readNumber(file('n2', '68000000\u0000\u0000\u0000'))).toBe(68_000_000);
    expect(readNumber(file('n3', '-12\n'))).toBe(-12);
    expect(readNumber(file('n4', '1.5\n'))).toBe(1.5);
  });

  it('refuse garbage, hex, exponents, infinities and values longer than any attribute', () => {
    for (const text of ['abc', '0x1F', '1e400', 'Infinity', 'NaN', '12 34', '9'.repeat(80), '']) {
      expect(readNumber(file('bad', text)), JSON.stringify(text)).toBeUndefined();
    }
    expect(numberProblem(file('bad2', 'garbage\n'))).toMatch(/not a finite decimal number \("garbage"\)/);
    expect(numberProblem(file('empty', '\n'))).toBe('it is empty');
    expect(numberProblem(join(dir, 'gone'))).toMatch(/cannot be read \(ENOENT\)/);
    expect(numberProblem(file('ok', '42\n'))).toBeUndefined();
  });

  it('read again and again from one open file: NaN for garbage, a throw when the file goes away', () => {
    const path = file('counter', '1000\n');
    const r = new AttributeReader(path);
    expect(r.readNumber()).toBe(1000);
    writeFileSync(path, '1234567\u0000\u0000');
    expect(r.readNumber()).toBe(1_234_567);
    writeFileSync(path, 'x'.repeat(200));
    expect(r.readNumber()).toBeNaN();
    writeFileSync(path, 'not a number\n');
    expect(r.readNumber()).toBeNaN();
    writeFileSync(path, '\n');
    expect(r.readNumber()).toBeUndefined();
    r.close();
    const gone = new AttributeReader(join(dir, 'never'));
    expect(() => gone.readNumber()).toThrow(/ENOENT/);
  });
});
