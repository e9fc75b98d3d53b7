"""The smoke-sized facts each lesson's text quotes, checked on what its main() returns
(tests/test_lessons.py runs every lesson with --smoke and calls facts_NN on the result)."""
import math

def close(a, b, tol=1e-6):
    return abs(a - b) <= tol


def facts_00(f):
    assert close(f["o"], math.sqrt(0.5), 1e-12)              # the neuron's output, 0.7071
    assert f["value_vs_central"] < 1e-7 and f["mlp_parameters"] == 41
    assert f["mlp_loss"][1] < f["mlp_loss"][0] / 100            # 3.590 -> 0.013 in 60 steps
    assert f["value_vs_tinytx"] < 1e-12 and f["array_vs_tinytx"] < 1e-12 and f["tanh_gradcheck"]


def facts_01(f):
    assert f["bigram_bpb"] < 8 and f["unigram_bpb"] < 8 and f["module_parameters"] == 67
    assert f["linear_vs_tinytx"] < 1e-12 and f["mlp_manual_vs_autograd"] < 1e-12
    assert f["embedding_vs_rows"] == 0                             # nn.Embedding: a row lookup
    assert f["ce_loss_vs_tinytx"] < 1e-12 and f["ce_grad_vs_tinytx"] < 1e-12
    assert close(f["uniform_loss"], math.log(256), 1e-12) and f["naive_overflows"]
    assert close(f["first_loss"], math.log(256), 0.5)              # near ln 256 at the start
    assert f["sgd_vs_tinytx"] < 1e-6 and f["momentum_vs_tinytx"] < 1e-6
    first, peak, last = f["schedule_lr"]
    assert first < peak and last < peak and 0 <= f["clipped_share"] <= 1
    assert all(b < 8 for b in f["held_out_bpb"].values()) and f["final_bpb"] < 8


def facts_02(f):
    assert f["x_grad"] == [2.0, 4.0, 6.0] and f["hs_shape"] == [2, 5, 4]
    assert f["cell_vs_hand"] == 0 and f["rnn_vs_hand"] < 1e-6
    assert f["bptt_dh"] < 1e-12 and f["bptt_dW"] < 1e-12
    assert f["gradcheck_cell"] and f["gradcheck_composed"] and f["wrong_backward_caught"]
    norms = f["norm_last_over_first"]
    assert norms["RNN"] < 1 and norms["RNN"] < norms["RNN, W x4"]  # 4W: more gradient
    assert f["sine_mse"][1] < f["sine_mse"][0] / 10


def facts_03(f):
    assert f["cell_vs_hand"] < 1e-6 and f["gates_in_0_1"]
    assert f["fused_vs_composed_forward"] < 1e-12 and f["fused_vs_composed_backward"] < 1e-12
    assert f["graph_ops"][1] < f["graph_ops"][0]                # fused: fewer ops
    assert all(0 <= a <= 1 for a in f["recall_accuracy"].values())
    norms = f["norm_last_over_first"]
    assert norms["RNN"] < norms["LSTM"] < 1                     # the RNN's gradient vanishes


def facts_04(f):
    assert f["hand_vs_library"] < 1e-6 and f["P_rows_sum_to_1"]
    assert f["masked_weights_zero"] and f["all_padding_output"] == 0
    assert all(close(s, 1.0, 0.05) for s in f["score_std_sqrt_D"])   # √D: spread 1 at any T
    short, long = f["score_std_sqrt_T"]
    assert short > 2 and long < 0.5                              # √T: depends on T


def facts_05(f):
    assert f["y_shape"] == [2, 5, 8] and f["hand_vs_composed"] == 0
    assert f["hand_vs_fused"] < 1e-6 and f["loop_vs_heads"] == 0
    assert f["parameters_per_H"] == [288] * 4                   # heads add no weights
    assert min(f["toy_accuracy"]) > 0.95                         # the toy reaches its target
    assert f["favourite_offsets"] == [1, 2]                      # one head per offset


def facts_06(f):
    assert f["slips_fail"] == [True] * 4 and f["fixed_same_merges"] and f["fixed_round_trip"]
    assert f["possessive_zero_or_one"]
    assert f["whitespace_chunks"] == ["Don", "'t", "  ", " go", "  \n", "now", "!", "   "]
    tokens = f["held_out_tokens"]
    assert tokens == sorted(tokens, reverse=True)                # a larger V: fewer tokens


def facts_07(f):
    assert f["lookup_vs_rows"] == 0 and f["lookup_vs_one_hot"] == 0
    assert f["unused_rows_zero"] and f["grad_rows_as_expected"] and f["vocabulary"] > 0


def facts_08(f):
    assert f["ln_row_means"] < 1e-5 and all(close(v, 1, 3e-3) for v in f["ln_row_vars"])
    assert f["ln_scale_invariance"] < 1e-2                       # up to eps
    assert f["block_parameters"] == [12704, 12704]              # 12·C² + 13·C for C = 32
    assert f["block_out_shape"] == [2, 5, 32]


def facts_09(f):
    lo, hi, expected = f["row_norms"]
    assert close(lo, expected, 1e-9) and close(hi, expected, 1e-9)
    assert f["rotation_error"] < 1e-12 and f["dot_spread"] < 1e-12
    assert f["permutation_error"] < 1e-5                         # no positions: a set
    assert set(f["token_accuracy"]) == {"none", "sinusoidal", "learned"}


def facts_10(f):
    same = f["same_decodes"]
    assert same["no mask, KV cache"] == 1.0                     # the mask changes nothing there
    assert same["no mask, whole prefix every step"] < 1.0       # ... and something here


def facts_11(f):
    assert f["xy_shifted"] and close(f["first_loss"], f["log_vocab"], 0.3)   # ln V at step 0
    assert all(shape[1] == shape[2] for shape in f["attention_shapes"])      # (H, T, T)
    assert f["attention_rows_sum_to_1"] and f["attention_causal"]
    for run, share in f["copied"].values():
        assert run >= 0 and 0 <= share <= 1
    assert f["copied"]["held-out passage of the book (baseline)"][0] > 0   # book text: found
    assert f["companion_parameters"] == 20_169_216     # = GPT(6 layers, 384 wide, V 24540)


def facts_12(f):
    assert math.isfinite(f["val_loss"]) and [r["width"] for r in f["beam"]] == [1, 2]
    assert f["layer_parameters"] == [3_152_384, 4_204_032]
    assert f["nb_nn_parameters"] == {"6+8": 56_642_560, "8+12": 79_763_456}


def facts_13(f):
    assert f["finetuned"] < f["pretrained, before"] and f["same_order_at_every_T"]
    assert f["beam_length"] > 0


def facts_14(f):
    sums, n = f["allreduce"], f["allreduce"]["n"]
    worlds = sorted({int(k.split("_")[1]) for k in sums if k != "n"})
    for W in worlds:
        assert sums[f"naive_{W}"]["error"] < 1e-12 and sums[f"ring_{W}"]["error"] < 1e-12
        assert sums[f"naive_{W}"]["busiest"] == (W - 1) * n * 8        # the root: (W-1)·n
        assert sums[f"ring_{W}"]["busiest"] == 2 * (W - 1) * n // W * 8   # 2(W-1)/W·n
        assert sums[f"naive_{W}"]["total"] == sums[f"ring_{W}"]["total"]
    shards = f["shards"]
    assert shards["equal_shards"] < 1e-12 and shards["unequal_weighted"] < 1e-12
    assert shards["unequal_plain"] > 1e-3              # unequal shards need their weights
    mpi = f["mpi"]
    if mpi["ran"]:
        assert mpi["max_diff"] < 1e-6 and mpi["buckets"] > 1
        assert mpi["started_during_backward"] > 0                 # communication overlaps
    else:
        assert "mpi4py" in mpi["skipped"], mpi          # says why, and what to install


def facts_15(f):
    assert set(f["pieces"]) == {"layer_norm", "mlp", "block_forward", "xy_batch", "gpt_forward",
                                "top_k_filter", "top_p_filter", "sample", "cross_entropy_ignoring",
                                "adamw_step", "train_step"}
    assert set(f["pieces"].values()) <= {"yours", "ours"}
    assert sorted(f["checked"]) == sorted(n for n, who in f["pieces"].items() if who == "yours")
    assert close(f["untrained_bpb"], 8, 0.2)                    # ~ln 256 nats at the start
    assert math.isfinite(f["bits_per_byte"]) and f["bits_per_byte"] < f["untrained_bpb"] < 8.2
    assert f["train_bpb"][-1] < f["train_bpb"][0] and f["sample_bytes"] > 0
