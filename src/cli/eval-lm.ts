/** `pargs eval-lm`: held-out loss and perplexity of a model on a text file, per token and per byte. */
import { readFile } from 'node:fs/promises';
import { OptionError } from '../errors.js';
import { loadCausalLM } from '../lm/load.js';
import { evaluateLM } from '../pretrain/eval-lm.js';
import { defineCommand } from './args.js';
import { cliProgress } from './progress.js';

export const evalLmCommand = defineCommand({
  name: 'eval-lm',
  summary: 'loss, perplexity and bits per byte of a causal LM on a text file',
  usage: 'pargs eval-lm --model DIR --text FILE [--context N] [--stride N] [--json]',
  flags: {
    model: { type: 'string', help: 'local Hugging Face model folder', placeholder: 'DIR' },
    text: { type: 'string', help: 'UTF-8 text file to score (several: comma-separated, each scored as its own text)', placeholder: 'FILE' },
    context: { type: 'number', integer: true, min: 1, help: 'window length (default: the model context, at most 1024)' },
    stride: { type: 'number', integer: true, min: 1, help: 'tokens scored per window (default = context, non-overlapping)' },
    json: { type: 'boolean', help: 'print one JSON object' },
    backend: { type: 'string', help: 'tensorflow | wasm | cpu | auto', placeholder: 'NAME' },
  },
  async run(flags, _positionals, io) {
    if (!flags.model) throw new OptionError('pargs eval-lm: --model DIR is required');
    if (!flags.text) throw new OptionError('pargs eval-lm: --text FILE is required');
    // Several files (comma-separated) are scored as separate texts, as the pretraining validation is.
    const texts = await Promise.all(
      flags.text.split(',').map((file) =>
        readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
          throw new OptionError(`pargs eval-lm: cannot read ${file} (${err.code ?? err.message})`);
        }),
      ),
    );
    const lm = await loadCausalLM(flags.model, { backend: flags.backend as 'auto' | undefined });
    try {
      const r = await evaluateLM({ lm, texts, context: flags.context, stride: flags.stride, signal: io.signal, onProgress: cliProgress(io, { json: flags.json }) });
      if (flags.json) {
        io.out(JSON.stringify({ model: flags.model, text: flags.text, ...r }));
      } else {
        io.out(`tokens ${r.tokens}, bytes ${r.bytes}, windows ${r.windows} (context ${r.context}, stride ${r.stride})`);
        io.out(`loss ${r.lossPerToken.toFixed(4)} nats/token, perplexity ${r.perplexity.toFixed(3)}`);
        io.out(`${r.lossPerByte.toFixed(4)} nats/byte, ${r.bitsPerByte.toFixed(4)} bits/byte`);
      }
      return 0;
    } finally {
      lm.dispose();
    }
  },
});
