"""The lessons, their exercises (lessons/exercises/), the exercises' checks
(lessons/checks/), our answers (lessons/solutions/), the checker
(python -m lessons.check NN), and the lessons' recorded full runs (lessons/expected/,
written and checked by python -m lessons.record).

TEACHES is the course's table of contents at the level of code: the tinytx classes,
functions and constants each lesson teaches (the lesson that first shows what a name
does, by building it or checking it). A lesson may use only names taught by itself or an
earlier lesson; tests/test_lessons.py reads every lesson's code and fails on a name used
before the lesson that teaches it, or taught nowhere. tinytx.course's helpers (setup,
section, load_book, ...) are the course's furniture, not taught.
"""
TEACHES = {
    "00_autograd": ("tensor", "Function", "gradcheck", "sum_to", "manual_seed", "randn",
                    "exp", "tanh"),
    "01_mlp_lm": ("Tensor", "ones", "no_grad", "Module", "Linear", "Embedding", "Dropout",
                  "cross_entropy", "SGD", "Adam", "AdamW", "decay_groups", "clip_grad_norm",
                  "lr_schedule", "set_lr", "train_val_split", "get_batch"),
    "02_rnn": ("RNNCell", "RNN", "zeros", "concat", "stack"),
    "03_lstm": ("LSTMCell", "LSTM", "sigmoid", "split", "fused", "topological_order",
                "recall_task", "RecallNet", "train_recall", "save_curves"),
    "04_attention": ("scaled_dot_product_attention", "softmax", "causal_mask",
                     "padding_mask", "combine_masks", "arange", "LearnedPositionalEmbedding",
                     "load_curve"),
    "05_multihead": ("MultiHeadAttention", "split_heads", "merge_heads", "attention",
                     "flash_attention"),
    "06_tokenization": ("BasicTokenizer", "RegexTokenizer", "GPT4_SPLIT_PATTERN", "get_stats",
                        "merge", "train_merges", "render_token"),
    "07_embeddings": ("one_hot", "train_word2vec", "most_similar"),
    "08_block": ("LayerNorm", "Block", "EncoderLayer", "ModuleList"),
    "09_positional": ("SinusoidalPositionalEncoding", "sinusoidal_table"),
    "10_encoder_decoder": ("CrossAttention", "Seq2Seq", "Seq2SeqConfig", "pad_batch",
                           "collate_pairs", "generate_seq2seq"),
    "11_gpt_quixote": ("GPT", "GPTConfig", "cached_tokenizer", "evaluate", "probabilities",
                       "apply_temperature", "generate_text", "save_checkpoint", "model_record",
                       "longest_copied", "copied_fraction"),
    "12_encoder_decoder": ("DecoderLayer", "Trainer", "TrainConfig", "load_model",
                           "beam_search_seq2seq", "compare_decoders", "cross_attention",
                           "book_pairs", "encode_pairs", "random_pair_batch", "pair_loss",
                           "seq2seq_loss", "smoothed_loss", "target_logprobs", "target_tokens",
                           "strip_target", "special_ids", "add_special_tokens",
                           "shared_tokenizer", "load_tatoeba", "translate_corpus",
                           "scores_by_beam_width", "sentence_chrf"),
    "13_finetuning": ("beam_search", "load_gpt2", "load_gpt2_tokenizer", "load_text",
                      "iter_windows", "read_checkpoint_meta"),
    "14_data_parallel": ("shard_batch", "accumulate_gradients", "DataParallel", "init"),
    "15_capstone": ("Optimizer", "generate"),
}
