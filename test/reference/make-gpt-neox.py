"""
Writes the GPT-NeoX (Pythia) reference fixtures under test/fixtures/gpt-neox/ with Hugging Face
transformers itself, so test/lm/gpt-neox.test.ts can check the TensorFlow.js port without Python.

For each variant (parallel and sequential residual) it builds a tiny random GPTNeoXForCausalLM, saves
the folder with save_pretrained (config.json, model.safetensors, generation_config.json and a
GPTNeoXTokenizer's files, as transformers writes them), reloads the folder and records, from the
reloaded model, float32 logits and greedy continuations in reference.json.

Run from the repository root:  python3 test/reference/make-gpt-neox.py
Pinned by what it records: transformers and torch versions are written into each reference.json.
Golden-reference rules (docs: /work/shared/reference/hf-architectures.md §0): float32, eager attention,
do_sample=False, num_beams=1.
"""
import json
import os
import shutil

import torch
import transformers
from tokenizers import pre_tokenizers
from transformers import GPTNeoXConfig, GPTNeoXForCausalLM, GPTNeoXForSequenceClassification, GPTNeoXTokenizer

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'fixtures', 'gpt-neox')
EOT = '<|endoftext|>'
PAD = '<|padding|>'

# The single sequence (logits at every position) and the left-padded batch (last-position logits).
PROMPT = [5, 17, 200, 3, 99, 42, 7, 150, 11, 64, 250, 31]
BATCH = [PROMPT[:10], PROMPT[4:10], [PROMPT[0]]]
NEW_TOKENS = 12
TEXT = 'the other thesis, then the end'

VARIANTS = {
    # Pythia's own shape of config: parallel residual, rotary_pct 0.25, default base, biases.
    'parallel': dict(
        hidden_size=32, num_attention_heads=2, intermediate_size=64, num_hidden_layers=2,
        rotary_pct=0.25, rotary_emb_base=10000, use_parallel_residual=True, attention_bias=True,
        seed=1, reward_model=True,
        # Rewritten after saving into the spelling of the Pythia configs on the Hub (rotary_pct,
        # rotary_emb_base, no rope_parameters), to check that transformers reads both the same way.
        hub_spelling=True,
    ),
    # Sequential residual, half the head rotated, a non-default base, no attention biases.
    'sequential': dict(
        hidden_size=32, num_attention_heads=4, intermediate_size=64, num_hidden_layers=2,
        rotary_pct=0.5, rotary_emb_base=500, use_parallel_residual=False, attention_bias=False,
        seed=2, hub_spelling=False, reward_model=False,
    ),
}


def byte_level_vocab():
    """256 byte tokens, four merges (' t', 'th', 'he', ' the'), then <|endoftext|> and <|padding|>."""
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    # GPT-2's byte order: the printable bytes map to themselves, the rest to 256 + k.
    printable = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    mapping, extra = [], 0
    for b in range(256):
        if b in printable:
            mapping.append(chr(b))
        else:
            mapping.append(chr(256 + extra))
            extra += 1
    assert set(mapping) == set(alphabet)
    vocab = {ch: i for i, ch in enumerate(mapping)}
    space = mapping[32]
    merges = [(space, 't'), ('t', 'h'), ('h', 'e'), (space + 't', 'he')]
    for a, b in merges:
        vocab[a + b] = len(vocab)
    vocab[EOT] = len(vocab)
    vocab[PAD] = len(vocab)
    return vocab, merges


def randomise(model, seed):
    """Weights far from transformers' 0.02 init, so logits are spread out and greedy steps are not near ties."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=g)
            if 'layernorm' in name or 'layer_norm' in name:
                p.copy_(1 + 0.1 * noise if name.endswith('weight') else 0.1 * noise)
            elif name.endswith('bias'):
                p.copy_(0.1 * noise)
            else:
                p.copy_(0.2 * noise)


def to_list(t):
    # float32 values printed with 9 significant digits round-trip exactly.
    return [float(f'{x:.9g}') for x in t.reshape(-1).tolist()]


def top2_gap(logits):
    top = torch.topk(logits, 2, dim=-1).values
    return (top[..., 0] - top[..., 1]).min().item()


def reward_model_reference(lm, seed):
    """
    GPTNeoXForSequenceClassification (num_labels 1) on the LM's backbone with a random score row: the
    reward after every token of PROMPT, and of each BATCH row alone. The test writes the same folder
    from these numbers (the LM's tensors without embed_out, plus score.weight), so no second copy of
    the weights is committed.
    """
    saved = {k: v for k, v in lm.config.to_dict().items() if k not in ('id2label', 'label2id')}
    config = GPTNeoXConfig.from_dict({**saved, 'num_labels': 1, 'architectures': ['GPTNeoXForSequenceClassification']})
    assert config.num_labels == 1
    rm = GPTNeoXForSequenceClassification._from_config(config, dtype=torch.float32, attn_implementation='eager').eval()
    rm.gpt_neox.load_state_dict(lm.gpt_neox.state_dict())
    g = torch.Generator().manual_seed(100 + seed)
    score = 0.5 * torch.randn((1, config.hidden_size), generator=g)
    with torch.no_grad():
        rm.score.weight.copy_(score)
        # Every position's score·hidden is the reward of the prefix ending there (causal attention).
        prefix = rm.score(rm.gpt_neox(torch.tensor([PROMPT])).last_hidden_state)[0, :, 0]
        rows = [rm(torch.tensor([row])).logits[0, 0].item() for row in BATCH]
        assert abs(prefix[-1].item() - rm(torch.tensor([PROMPT])).logits[0, 0].item()) < 1e-6
    return {'rm_score_weight': to_list(score), 'rm_prefix_rewards': to_list(prefix), 'rm_batch_rewards': rows}


def make(name, v):
    out = os.path.join(ROOT, name)
    shutil.rmtree(out, ignore_errors=True)
    vocab, merges = byte_level_vocab()
    tokenizer = GPTNeoXTokenizer(vocab=vocab, merges=merges, bos_token=EOT, eos_token=EOT, unk_token=EOT, pad_token=PAD)
    eot, pad = vocab[EOT], vocab[PAD]
    config = GPTNeoXConfig(
        vocab_size=288,  # more rows than the tokenizer has tokens, as in Pythia (50304 vs ~50277)
        hidden_size=v['hidden_size'], num_attention_heads=v['num_attention_heads'],
        intermediate_size=v['intermediate_size'], num_hidden_layers=v['num_hidden_layers'],
        rotary_pct=v['rotary_pct'], rotary_emb_base=v['rotary_emb_base'],
        use_parallel_residual=v['use_parallel_residual'], attention_bias=v['attention_bias'],
        max_position_embeddings=64, layer_norm_eps=1e-5, hidden_act='gelu',
        bos_token_id=eot, eos_token_id=eot, pad_token_id=pad, tie_word_embeddings=False,
    )
    torch.manual_seed(v['seed'])
    model = GPTNeoXForCausalLM(config)
    randomise(model, v['seed'])
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    if v['hub_spelling']:
        path = os.path.join(out, 'config.json')
        with open(path) as f:
            saved = json.load(f)
        rope = saved.pop('rope_parameters')
        assert rope == {'rope_type': 'default', 'rope_theta': v['rotary_emb_base'], 'partial_rotary_factor': v['rotary_pct']}, rope
        saved['rotary_pct'] = rope['partial_rotary_factor']
        saved['rotary_emb_base'] = rope['rope_theta']
        with open(path, 'w') as f:
            json.dump(saved, f, indent=2, sort_keys=True)
            f.write('\n')

    # Everything below comes from the folder as saved, read back the way a user would.
    ref = GPTNeoXForCausalLM.from_pretrained(out, dtype=torch.float32, attn_implementation='eager').eval()
    tok = GPTNeoXTokenizer.from_pretrained(out)
    assert ref.config.rope_parameters['partial_rotary_factor'] == v['rotary_pct']
    assert ref.config.rope_parameters['rope_theta'] == v['rotary_emb_base']
    for (n1, p1), (n2, p2) in zip(model.state_dict().items(), ref.state_dict().items()):
        assert n1 == n2 and torch.equal(p1, p2), n1

    with torch.no_grad():
        ids = torch.tensor([PROMPT])
        logits = ref(ids).logits[0]  # [T, V]
        single = ref.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False, num_beams=1,
                              max_new_tokens=NEW_TOKENS, pad_token_id=pad)[0, len(PROMPT):]
        T = max(len(r) for r in BATCH)
        batch_ids = torch.tensor([[pad] * (T - len(r)) + r for r in BATCH])
        mask = torch.tensor([[0] * (T - len(r)) + [1] * len(r) for r in BATCH])
        # generate()'s positions for a left-padded batch: cumsum(mask) − 1, padding at position 1.
        positions = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 1)
        batch_logits = ref(batch_ids, attention_mask=mask, position_ids=positions).logits[:, -1]  # [B, V]
        batch_out = ref.generate(batch_ids, attention_mask=mask, do_sample=False, num_beams=1,
                                 max_new_tokens=NEW_TOKENS, pad_token_id=pad)[:, T:]
        # Greedy margins along both continuations: a tiny gap would make the token test fragile.
        full = torch.cat([ids, single[None]], 1)
        gaps = [top2_gap(ref(full).logits[0, len(PROMPT) - 1:-1])]
        for r, row in enumerate(BATCH):
            seq = torch.tensor([row + batch_out[r].tolist()])
            gaps.append(top2_gap(ref(seq).logits[0, len(row) - 1:-1]))
    assert eot not in single.tolist() and eot not in batch_out.reshape(-1).tolist(), 'a continuation hit EOS; pick other prompts'
    assert min(gaps) > 1e-3, f'near tie in a greedy step ({min(gaps)})'

    reference = {
        'transformers': transformers.__version__,
        'torch': torch.__version__,
        'made_by': 'test/reference/make-gpt-neox.py',
        'settings': 'float32, attn_implementation="eager", generate(do_sample=False, num_beams=1)',
        'vocab_size': config.vocab_size,
        'prompt': PROMPT,
        'logits': to_list(logits),
        'greedy': single.tolist(),
        'batch': BATCH,
        'batch_last_logits': to_list(batch_logits),
        'batch_greedy': batch_out.tolist(),
        'min_top2_gap': min(gaps),
        'text': TEXT,
        'text_ids': tok(TEXT)['input_ids'],
    }
    if v['reward_model']:
        reference.update(reward_model_reference(ref, v['seed']))
    with open(os.path.join(out, 'reference.json'), 'w') as f:
        json.dump(reference, f, separators=(',', ':'))
        f.write('\n')
    print(name, 'greedy', single.tolist(), 'min top-2 gap', round(min(gaps), 4), 'text ids', reference['text_ids'])


if __name__ == '__main__':
    for name, v in VARIANTS.items():
        make(name, v)
