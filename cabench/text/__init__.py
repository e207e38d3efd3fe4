"""Text side of training: tokenizer, report -> per-anatomy sentences, training-time augmentation."""
