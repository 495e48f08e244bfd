import time

from models_core.compute import ComputeMeter, encoder_forward_flops, merge_compute
from models_core.encoder.config import EncoderConfig

KEYS = {"device", "wall_s", "cpu_s", "peak_mem_mb", "flops", "tokens", "energy_wh", "energy_assumption"}


def test_forward_flops_follow_the_documented_formula():
    c = EncoderConfig(hidden_size=384, intermediate_size=1536, num_layers=6, num_heads=12)
    t, h, i = 10, 384, 1536
    per_layer = 2 * (3 * h * h + h * h + h * i + i * h) * t + 2 * (t * t * h) * 2
    assert encoder_forward_flops(c, batch=4, seq_len=t, num_labels=2) == 4 * (6 * per_layer + 2 * h * 2)


def test_meter_records_every_key_and_training_counts_three_forwards():
    c = EncoderConfig()
    with ComputeMeter("cpu") as meter:
        meter.add_batch(c, batch=2, seq_len=8, tokens=13, backward=True)
        deadline = time.process_time() + 0.05
        while time.process_time() < deadline:
            pass
    record = meter.as_dict()
    assert set(record) == KEYS
    assert record["flops"] == 3 * encoder_forward_flops(c, 2, 8)
    assert record["tokens"] == 13
    assert record["wall_s"] > 0 and record["cpu_s"] >= 0.05 and record["peak_mem_mb"] > 10
    assert abs(record["energy_wh"] - 15.0 * meter.cpu_s / 3600) < 1e-9
    assert "15 W per busy core" in record["energy_assumption"]
    merged = merge_compute([record, record])
    assert merged["flops"] == 2 * record["flops"] and merged["peak_mem_mb"] == record["peak_mem_mb"]
