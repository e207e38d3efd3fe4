from cabench.text.tokenizer import encode_batch, train_tokenizer

CORPUS = [
    "There is a 12 mm nodule in the right upper lobe.",
    "Heart size is normal. No pericardial effusion.",
    "Emphysematous changes in both upper lobes.",
] * 20


def test_bpe_training_is_reproducible():
    a, b = train_tokenizer(CORPUS, vocab_size=300), train_tokenizer(CORPUS, vocab_size=300)
    assert a.to_str() == b.to_str()


def test_unseen_words_never_become_unknown():
    tok = train_tokenizer(CORPUS, vocab_size=300)
    unk = tok.token_to_id("[UNK]")
    assert unk not in tok.encode("Zygomatic xylophone is not present!").ids


def test_encode_batch_pads_and_truncates():
    tok = train_tokenizer(CORPUS, vocab_size=300)
    ids, mask = encode_batch(tok, ["Heart.", CORPUS[0] * 5], max_length=16)
    assert ids.shape == mask.shape == (2, 16)
    assert mask[0].sum() < 16 and mask[1].sum() == 16
    assert ids[1, -1] == tok.token_to_id("[SEP]") and ids[0, 0] == tok.token_to_id("[CLS]")
