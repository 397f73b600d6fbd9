/**
 * Finds and opens the safetensors weights of a Hugging Face model folder: a single model.safetensors,
 * a sharded checkpoint described by model.safetensors.index.json, or a lone *.safetensors file.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { SafetensorsError } from '../errors.js';
import { checkArgument, checkOptions, required, string } from '../options.js';
import { describeReadFailure, readInput } from './read-input.js';
import {
  missingTensorError, READ_OPTIONS_SCHEMA, SafetensorsFile, type SafetensorsDtype, type SafetensorsReadOptions,
} from './safetensors.js';

/** Read access to named weights, whatever files they are spread over. */
export interface WeightSource {
  /** Tensor names (for a sharded checkpoint, the names in the index's weight_map). */
  names(): string[];
  info(name: string): { dtype: SafetensorsDtype; shape: number[] };
  has(name: string): boolean;
  readF32(name: string): Promise<Float32Array>;
  close(): Promise<void>;
}

const SINGLE_FILE = 'model.safetensors';
const INDEX_FILE = 'model.safetensors.index.json';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Adapts a set of open files plus a name → file map to the `WeightSource` interface. */
function makeSource(files: SafetensorsFile[], fileOf: Map<string, SafetensorsFile>, where: string): WeightSource {
  const lookup = (name: string): SafetensorsFile => {
    const file = fileOf.get(name);
    if (file === undefined) throw missingTensorError(name, where, [...fileOf.keys()]);
    return file;
  };
  return {
    names: () => [...fileOf.keys()],
    has: (name) => fileOf.has(name),
    info: (name) => {
      const { dtype, shape } = lookup(name).info(name);
      return { dtype, shape: [...shape] };
    },
    // async so an unknown name rejects the promise instead of throwing synchronously.
    readF32: async (name) => lookup(name).readF32(name),
    close: async () => {
      await Promise.all(files.map((f) => f.close()));
    },
  };
}

/**
 * Opens one weights file; a folder in its place, an unreadable file or any other file-system failure is
 * a `SafetensorsError` naming the path (opening a folder for reading succeeds on Linux and fails later).
 */
async function openWeightsFile(file: string, options: SafetensorsReadOptions): Promise<SafetensorsFile> {
  const info = await fs.stat(file).catch((err: unknown) => {
    throw new SafetensorsError(describeReadFailure(file, err));
  });
  if (!info.isFile()) throw new SafetensorsError(`cannot read ${file}: it is ${info.isDirectory() ? 'a folder' : 'not a regular file'}; it must be a safetensors file`);
  return readInput(file, () => SafetensorsFile.open(file, options), (message) => new SafetensorsError(message));
}

async function openSingle(file: string, options: SafetensorsReadOptions): Promise<WeightSource> {
  const reader = await openWeightsFile(file, options);
  return makeSource([reader], new Map(reader.names().map((n) => [n, reader])), file);
}

/** Reads and validates the shard index, returning tensor name → shard file name. */
async function readIndex(dir: string, indexPath: string): Promise<Map<string, string>> {
  let index: unknown;
  try {
    index = JSON.parse(await fs.readFile(indexPath, 'utf8'));
  } catch (err) {
    throw new SafetensorsError(`Cannot read shard index ${indexPath}: ${(err as Error).message}`);
  }
  const weightMap = isRecord(index) ? index.weight_map : undefined;
  if (!isRecord(weightMap)) {
    throw new SafetensorsError(`Shard index ${indexPath}: "weight_map" must be an object mapping tensor names to shard files`);
  }
  const out = new Map<string, string>();
  for (const [name, shard] of Object.entries(weightMap)) {
    // Shards must be plain files inside the model folder; an index must not point elsewhere on disk.
    const rel = typeof shard === 'string' && shard !== '' && !path.isAbsolute(shard)
      ? path.relative(dir, path.resolve(dir, shard)) : '..';
    const inside = rel !== '' && rel !== '..' && !rel.startsWith(`..${path.sep}`);
    if (!inside) {
      throw new SafetensorsError(`Shard index ${indexPath}: tensor "${name}" maps to invalid shard ${JSON.stringify(shard)}`);
    }
    out.set(name, shard as string);
  }
  if (out.size === 0) throw new SafetensorsError(`Shard index ${indexPath}: "weight_map" is empty`);
  return out;
}

async function openSharded(dir: string, options: SafetensorsReadOptions): Promise<WeightSource> {
  const indexPath = path.join(dir, INDEX_FILE);
  const weightMap = await readIndex(dir, indexPath);
  const shardNames = [...new Set(weightMap.values())].sort();
  for (const shard of shardNames) {
    const exists = await fs.stat(path.join(dir, shard)).then(() => true, () => false);
    if (!exists) {
      throw new SafetensorsError(`Shard "${shard}" listed in ${indexPath} does not exist in ${dir}; the download may be incomplete`);
    }
  }
  const shards = new Map<string, SafetensorsFile>();
  try {
    for (const shard of shardNames) shards.set(shard, await openWeightsFile(path.join(dir, shard), options));
    const fileOf = new Map<string, SafetensorsFile>();
    for (const [name, shard] of weightMap) {
      const file = shards.get(shard) as SafetensorsFile;
      if (!file.has(name)) {
        throw new SafetensorsError(`Tensor "${name}" is mapped to shard "${shard}" by ${indexPath}, but ${file.path} does not contain it`);
      }
      fileOf.set(name, file);
    }
    return makeSource([...shards.values()], fileOf, dir);
  } catch (err) {
    await Promise.all([...shards.values()].map((f) => f.close()));
    throw err;
  }
}

function noWeightsMessage(dir: string, entries: string[], candidates: string[]): string {
  const shown = entries.length === 0 ? 'nothing (it is empty)'
    : entries.slice(0, 20).join(', ') + (entries.length > 20 ? `, … (${entries.length} entries)` : '');
  const pickles = entries.filter((e) => /\.(bin|pt|pth|ckpt)$/.test(e));
  const lines = [
    `No usable safetensors weights in ${dir}. pargs needs a Hugging Face model folder with ${SINGLE_FILE} ` +
      `(or ${INDEX_FILE} and its shards, or exactly one *.safetensors file).`,
    `The folder contains: ${shown}.`,
  ];
  if (candidates.length > 1) {
    lines.push(`It has ${candidates.length} .safetensors files but no ${INDEX_FILE} saying how they combine.`);
  }
  lines.push(
    `PyTorch pickles (.bin/.pt, e.g. pytorch_model.bin) are not supported${pickles.length ? ` (found: ${pickles.join(', ')})` : ''}. ` +
      'Convert them in Python, with transformers (use the model class you trained):\n' +
      `  from transformers import AutoModelForCausalLM\n  AutoModelForCausalLM.from_pretrained("${dir}").save_pretrained("${dir}", safe_serialization=True)\n` +
      'or with the safetensors package (the clone un-shares tied tensors, which save_file refuses):\n' +
      '  import torch; from safetensors.torch import save_file\n' +
      `  save_file({k: v.clone().contiguous() for k, v in torch.load("${path.join(dir, pickles[0] ?? 'pytorch_model.bin')}").items()}, "${path.join(dir, SINGLE_FILE)}", metadata={"format": "pt"})`,
  );
  return lines.join('\n');
}

/**
 * Opens the weights of a model folder: model.safetensors if present, else the sharded index, else the
 * folder's only *.safetensors file. Throws `SafetensorsError` explaining what is missing otherwise.
 */
export async function openSafetensorsDir(dir: string, options: SafetensorsReadOptions = {}): Promise<WeightSource> {
  checkArgument('openSafetensorsDir', 'dir', dir, required(string()));
  checkOptions('openSafetensorsDir', options, READ_OPTIONS_SCHEMA);
  let entries: string[];
  try {
    entries = (await fs.readdir(dir)).sort();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new SafetensorsError(`Cannot read model folder ${dir} (${code}); pass a Hugging Face model folder with ${SINGLE_FILE}`);
  }
  if (entries.includes(SINGLE_FILE)) return openSingle(path.join(dir, SINGLE_FILE), options);
  if (entries.includes(INDEX_FILE)) return openSharded(dir, options);
  const candidates = entries.filter((e) => e.endsWith('.safetensors'));
  if (candidates.length === 1) return openSingle(path.join(dir, candidates[0]), options);
  throw new SafetensorsError(noWeightsMessage(dir, entries, candidates));
}
