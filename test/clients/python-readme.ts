/**
 * clients/python/README.md's examples, as the tests run them: its fenced blocks, and what the
 * README leaves to the user (their model, loader, evaluate(), training step and load generator)
 * as stand-ins. STANDIN_SECONDS sets how long "evaluation" takes, STANDIN_TRAIN_SECONDS an
 * epoch's training and STANDIN_LOAD_SECONDS the load test.
 */
import { readFileSync } from 'node:fs';

/** The fenced blocks of one language in a markdown text, in order. */
export function fenced(markdown: string, lang: string): string[] {
  return [...markdown.matchAll(new RegExp('^```' + lang + '\\n([\\s\\S]*?)^```$', 'gm'))].map((m) => m[1] as string);
}

export const STAND_INS = `
import os, time
from typing import List

class Loader:
    def __init__(self, n: int) -> None:
        self.dataset: List[int] = list(range(n))

model = "stand-in model"
loader = Loader(1000)
steps, batch_size = 25, 32
epochs = int(os.environ.get("STANDIN_EPOCHS", "2"))
prompts = ["Hello"] * 8

def evaluate(model: str, loader: Loader) -> int:
    time.sleep(float(os.environ.get("STANDIN_SECONDS", "2")))
    return 800

def train_one_epoch(model: str, loader: Loader) -> None:
    time.sleep(float(os.environ.get("STANDIN_TRAIN_SECONDS", "1")))

def send_requests(prompts: List[str]) -> None:
    time.sleep(float(os.environ.get("STANDIN_LOAD_SECONDS", "3")))
`;

export interface PythonReadme {
  /** `with wattscope.run(…) as r:` */
  withBlock: string;
  /** `@wattscope.measure(…)`, its `...` as written */
  decorator: string;
  /** the training loop with a window per epoch and one per evaluation */
  epochs: string;
  /** a recorded window around a load test of an inference server */
  serving: string;
  /** the pip line */
  install: string;
}

export function pythonReadme(): PythonReadme {
  const text = readFileSync(new URL('../../clients/python/README.md', import.meta.url), 'utf8');
  const blocks = fenced(text, 'python');
  const sh = fenced(text, 'sh');
  if (blocks.length !== 4 || sh.length !== 1) throw new Error('clients/python/README.md: expected four python blocks (run, measure, epochs, a recorded window) and one sh block');
  const [withBlock, decorator, epochs, serving] = blocks as [string, string, string, string];
  if (!decorator.includes('\n    ...\n')) throw new Error('clients/python/README.md: the decorator example lost its `...` line');
  if (!epochs.includes('begin_window') || !serving.includes('record=True')) throw new Error('clients/python/README.md: the windows examples moved');
  return { withBlock, decorator, epochs, serving, install: sh[0] as string };
}
