/** What guided decoding returns and streams: its generations, tokens and per-step candidate traces (guided.ts, guided-vocab.ts). */
import type { BridgeTokens } from './token-bridge.js';

export interface CandidateTrace {
  tokenId: number;
  /** The candidate token decoded on its own (special tokens shown), as `GuidedToken.text`. */
  text: string;
  logProb: number;
  reward: number;
  score: number;
}

export interface GuidedToken {
  row: number;
  step: number;
  tokenId: number;
  text: string;
  /** log π_ref of the chosen token (over the full vocabulary). */
  logProb: number;
  /** log-probability of the chosen token under the guided policy itself (0 in greedy mode). */
  policyLogProb: number;
  reward: number;
  score: number;
  /** The k candidates, most probable under π_ref first (best combined score first with candidates 'combined'). */
  candidates: CandidateTrace[];
  /** Through the text bridge: the reward model's tokens this step ran, and what it would without its cache. */
  textBridge?: BridgeTokens;
}

export interface GuidedGeneration {
  promptIds: number[];
  generatedIds: number[];
  text: string;
  finishReason: 'eos' | 'stop' | 'length';
  trace: GuidedToken[];
  /**
   * Backbone forward calls this row took part in: prefill + per token one (fused), two (separate
   * backbones) or three layer-range passes (partially fused: lower layers, RM top, LM top).
   */
  modelCalls: number;
  /** Through the text bridge (a reward model on another tokenizer): its RM tokens run vs without its cache, prefill included. */
  textBridge?: BridgeTokens;
}
