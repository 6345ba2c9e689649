/**
 * The lines the CLI draws on a terminal and takes away again: the live line under a running
 * command (`wattscope run`), and the waits and countdowns of `run`, `runs stop` and `baseline`.
 * Off a terminal each says its piece once, as one plain line.
 */

const ESC = '\x1b';
const ERASE_LINE = `\r${ESC}[2K`;

/** A terminal that understands cursor movement (Emacs' shell buffer says TERM=dumb and does not). */
export function onTerminal(stream: NodeJS.WriteStream): boolean {
  return stream.isTTY === true && process.env.TERM !== 'dumb';
}

/** Cut to the terminal's width: a line that wraps can no longer be erased where it started. */
function fit(text: string, columns: number | undefined): string {
  return columns && text.length >= columns ? `${text.slice(0, Math.max(0, columns - 2))}…` : text;
}

/** What a stop or a baseline waits for before the API answers (DESIGN §5: final figures). */
export const WAITING_FOR_COLLECTORS = "[wattscope] waiting for the collectors' last points…";

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** One line redrawn in place: only while nothing else writes to the terminal. */
class InPlaceLine {
  constructor(private readonly stream: NodeJS.WriteStream) {}
  draw(text: string): void {
    this.stream.write(`${ERASE_LINE}${fit(text, this.stream.columns)}`);
  }
  erase(): void {
    this.stream.write(ERASE_LINE);
  }
}

/**
 * Shows `label` while `work` is pending: on a terminal followed by the seconds waited so far,
 * redrawn each second and erased when the answer comes; elsewhere once, as a line. `bottom`: a
 * status line under a command's output (wattscope bench) to draw it on instead; it stays.
 */
export async function whilePending<T>(work: Promise<T>, label: string, stream: NodeJS.WriteStream = process.stderr, bottom?: Pick<BottomLine, 'draw'>): Promise<T> {
  if (!bottom && !onTerminal(stream)) {
    stream.write(`${label}\n`);
    return work;
  }
  const line = bottom ?? new InPlaceLine(stream);
  const started = Date.now();
  const draw = () => line.draw(`${label} ${Math.floor((Date.now() - started) / 1000)} s`);
  draw();
  const timer = setInterval(draw, 1000);
  try {
    return await work;
  } finally {
    clearInterval(timer);
    if (line instanceof InPlaceLine) line.erase();
  }
}

/**
 * Waits `seconds`, showing `text(seconds left)` redrawn at each whole second on a terminal, or
 * `text(undefined)` once elsewhere.
 */
export async function countdown(seconds: number, text: (leftS: number | undefined) => string, stream: NodeJS.WriteStream = process.stderr): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  if (!onTerminal(stream)) {
    stream.write(`${text(undefined)}\n`);
    await sleep(seconds * 1000);
    return;
  }
  const line = new InPlaceLine(stream);
  try {
    for (let left = deadline - Date.now(); left > 0; left = deadline - Date.now()) {
      line.draw(text(Math.ceil(left / 1000)));
      await sleep(left % 1000 || 1000); // wake when the next whole second is left
    }
  } finally {
    line.erase();
  }
}

/**
 * A status line on the terminal's last row, under a command that writes to the same terminal.
 * Redrawing a line in place there cannot work: the command moves the cursor, so the erase hits
 * the command's row (or a fresh one, leaving the old copy behind) and the command's next text
 * lands after ours. Instead the command's output scrolls in the rows above (a scroll region,
 * DECSTBM) and the line is drawn below them with the cursor saved and restored in the same
 * write, so neither overwrites the other; apt draws its progress bar the same way.
 */
export class BottomLine {
  private closed = false;
  private text = '';
  private readonly onResize = () => this.resize();
  private readonly onExit = () => this.close();

  private constructor(
    private readonly stream: NodeJS.WriteStream,
    private rows: number,
  ) {}

  /** Undefined off a terminal or when its size is unknown (a pty of 0×0): there is no last row to use then. */
  static open(stream: NodeJS.WriteStream): BottomLine | undefined {
    const rows = onTerminal(stream) ? stream.rows : 0;
    if (!rows || rows < 3) return undefined;
    const line = new BottomLine(stream, rows);
    // a new line first and back up one: with the cursor on the last row, its text moves up into
    // the region instead of staying under the status line
    stream.write(`\n${ESC}7${ESC}[1;${rows - 1}r${ESC}8${ESC}[1A`);
    stream.on('resize', line.onResize);
    // whatever happens next, the terminal is not left with a scroll region
    process.once('exit', line.onExit);
    return line;
  }

  draw(text: string): void {
    this.text = text;
    // an answer that arrives after close() must not bring the line back
    if (this.closed) return;
    this.stream.write(`${ESC}7${ESC}[${this.rows};1H${ESC}[2K${fit(text, this.stream.columns)}${ESC}8`);
  }

  /** Erases the line and gives the whole terminal back to scrolling; the cursor stays where the command left it. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stream.off('resize', this.onResize);
    process.off('exit', this.onExit);
    this.stream.write(`${ESC}7${ESC}[${this.rows};1H${ESC}[2K${ESC}[r${ESC}8`);
  }

  private resize(): void {
    const rows = this.stream.rows;
    if (!rows || rows < 3) {
      this.close();
      return;
    }
    this.stream.write(`${ESC}7${ESC}[${this.rows};1H${ESC}[2K${ESC}[1;${rows - 1}r${ESC}8`);
    this.rows = rows;
    this.draw(this.text);
  }
}
