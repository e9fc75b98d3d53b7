"""The lessons' and jobs' tasks: what one lesson or example trains, beside the generic loop
(`tinytx.train`). Each module says which lesson or job uses it; none is loaded by this
package, so a lesson imports only its own task (and its dependencies).

    recall.py        the long-range recall task: a recurrent classifier and its loop
                     (lessons 03 and 04; `steps_to` for the course's table)
    word2vec.py      word2vec's training loop (lesson 07)
    seq2seq.py       the encoder-decoder with the Trainer: book pairs, pair batches and
                     losses, greedy against beam search (lesson 12, examples/train_seq2seq.py)
    translation.py   translation: IBM Model 1 dictionary, label-smoothed loss, BLEU/chrF
                     scoring (lesson 12, examples/translate.py, bench/translation_baselines.py)
    finetune.py      pretrained loaders and data encoders for finetuning (lesson 13,
                     examples/finetune.py)
"""
