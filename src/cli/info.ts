/** `pargs info DIR`: what a model folder holds and how pargs will run it. */
import { countParameters } from '../lm/config.js';
import { loadCausalLM } from '../lm/load.js';
import { defineCommand } from './args.js';
import { OptionError } from '../errors.js';

export const infoCommand = defineCommand({
  name: 'info',
  summary: 'describe a local Hugging Face model folder',
  usage: 'pargs info DIR [--json]',
  positionals: ['DIR'],
  flags: {
    json: { type: 'boolean', help: 'print one JSON object' },
    backend: { type: 'string', help: 'tensorflow | wasm | cpu | auto', placeholder: 'NAME' },
  },
  async run(flags, positionals, io) {
    if (positionals.length !== 1) throw new OptionError('pargs info: give exactly one model folder, e.g. "pargs info models/sotu-small"');
    const lm = await loadCausalLM(positionals[0], { backend: flags.backend as 'auto' | undefined });
    try {
      const c = lm.config;
      const summary = {
        model: positionals[0],
        architecture: c.modelType,
        parameters: countParameters(c),
        layers: c.numLayers,
        hiddenSize: c.hiddenSize,
        heads: c.numHeads,
        kvHeads: c.numKvHeads,
        headDim: c.headDim,
        intermediateSize: c.intermediateSize,
        vocabSize: c.vocabSize,
        tokenizerSize: lm.tokenizer.size,
        context: c.maxPositions,
        positional: c.positional === 'rope' ? `rope (theta ${c.ropeTheta}, ${c.ropeScaling.type})` : 'learned',
        tiedEmbeddings: c.tieWordEmbeddings,
        bos: lm.generation.bosTokenId,
        eos: lm.generation.eosTokenIds,
        addsBos: lm.tokenizer.addsBos,
        backend: lm.backend.description,
        device: lm.backend.gpu ? 'GPU' : 'CPU',
        threads: lm.backend.threads ?? 1,
        ...(lm.backend.libtensorflow ? { libtensorflow: lm.backend.libtensorflow } : {}),
      };
      if (flags.json) {
        io.out(JSON.stringify(summary));
      } else {
        const width = Math.max(...Object.keys(summary).map((k) => k.length));
        for (const [k, v] of Object.entries(summary)) io.out(`${k.padEnd(width)}  ${Array.isArray(v) ? v.join(', ') : String(v)}`);
      }
      return 0;
    } finally {
      lm.dispose();
    }
  },
});
