/**
 * Writes the trained model as a standard Hugging Face folder: config.json, model.safetensors (HF
 * tensor names and [out, in] layouts via `exportHfTensors`), tokenizer.json, tokenizer_config.json,
 * generation_config.json, and training.json describing the run. The files are replaced all together
 * (io/atomic-dir.ts): an I/O failure half-way leaves the previous files, if any, untouched, and files
 * of the folder that pargs did not write (a user's notes) stay.
 */
import { join } from 'node:path';
import { writeFileAtomic, writeJsonAtomic } from '../io/atomic.js';
import { replaceFilesAtomic } from '../io/atomic-dir.js';
import type { OutputRules } from '../io/output-dir.js';
import { writeSafetensors } from '../io/safetensors.js';
import { exportHfTensors } from '../lm/hf-weights.js';
import type { TrainableModel } from './init.js';
import type { TokenizerBundle } from './tokenizer-source.js';

export interface ModelFolderInput {
  rawConfig: Record<string, unknown>;
  model: TrainableModel;
  dtype: 'F32' | 'F16';
  tokenizer: TokenizerBundle;
  training: Record<string, unknown>;
}

/** The output rules of pretrain's model folder (see io/output-dir.ts). */
export const modelFolderRules = (overwrite: boolean, resume: boolean): OutputRules => ({ kind: 'language-model', what: 'pretrainLM: out (pargs pretrain --out)', overwrite, resume });

export async function writeModelFolder(dir: string, input: ModelFolderInput, rules: OutputRules): Promise<void> {
  const tensors = await exportHfTensors(input.model.config, input.model.stored());
  await replaceFilesAtomic(dir, rules, (out) => writeFiles(out, input, tensors));
}

async function writeFiles(out: string, input: ModelFolderInput, tensors: Awaited<ReturnType<typeof exportHfTensors>>): Promise<void> {
  await writeSafetensors(
    join(out, 'model.safetensors'),
    tensors.map((t) => ({ name: t.name, dtype: input.dtype, shape: t.shape, data: t.data })),
    { format: 'pt' },
  );
  await writeJsonAtomic(join(out, 'config.json'), { ...input.rawConfig, torch_dtype: input.dtype === 'F16' ? 'float16' : 'float32' });
  await writeFileAtomic(join(out, 'tokenizer.json'), input.tokenizer.jsonText);
  await writeJsonAtomic(join(out, 'tokenizer_config.json'), input.tokenizer.tokenizerConfig);
  const eot = input.tokenizer.eotId;
  await writeJsonAtomic(join(out, 'generation_config.json'), { bos_token_id: eot, eos_token_id: eot });
  await writeJsonAtomic(join(out, 'training.json'), input.training);
}
