// Types of the generated gradient bundle (scripts/bundle-gradients.mjs): a side-effect-only module.
export {};
