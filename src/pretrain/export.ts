/**
 * Writes the trained model as a standard Hugging Face folder: config.json, model.safetensors (HF
 * tensor names and [out, in] layouts via `exportHfTensors`), tokenizer.json, tokenizer_config.json,
 * generation_config.json, and training.json describing the run.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic, writeJsonAtomic } from '../io/atomic.js';
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

export async function writeModelFolder(out: string, input: ModelFolderInput): Promise<void> {
  await mkdir(out, { recursive: true });
  const tensors = await exportHfTensors(input.model.config, input.model.stored());
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
