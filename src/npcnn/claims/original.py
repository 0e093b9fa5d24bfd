"""The original report's numbers and its eight claims, as its digest states them
(``src/npcnn/report/ORIGINAL.md``, shipped with the report). "The original report" is
the university assignment this project rebuilds; its clauses, each with one test, are
``npcnn.claims.clauses``."""

from __future__ import annotations

ORIGINAL = {
    "default_acc": 0.985,  # test accuracy of the default network, 100 epochs, one run
    "best_acc": 0.990,  # k=3, C=16, lr 0.01 + plateau rule, momentum 0.9, one run
    "best_network": "k=3, C=16",
    "seconds_per_epoch": 54.0,  # 1.5 h / 100 epochs of the default network
    "default_hours": 1.5,  # the default network's 100 epochs
    "machine": "4-core Intel Core i7-4710HQ laptop, 2.5 GHz",
}
DATASET = "mnist"  # the only dataset the original trained on: its numbers apply to it alone

CLAIMS = {
    1: "Larger kernel size gives higher and more stable accuracy.",
    2: "More output channels give higher accuracy, more stability and faster convergence, "
       "but training time grows several-fold.",
    3: "A large initial learning rate makes the accuracy fluctuate strongly (it jumps past "
       "the optimum); a small one needs care.",
    4: "Large momentum converges faster early but is worse late: momentum early and none "
       "late is suggested.",
    5: "With init_std 0.01 the CNN does not start training; with init_std about 1 it "
       "converges fast (the opposite of the MLP, which preferred a small init).",
    6: "With softmax cross-entropy the loss curve is noisier than with the Euclidean loss, "
       "yet its accuracy climbs steadily and ends higher.",
    7: "CNN vs MLP: similar best accuracy (the CNN slightly higher) with 2.5% of the "
       "parameters; the CNN converges in fewer epochs (about 0.98 within 10) but each "
       "epoch is far slower.",
    8: "The first conv layer's ReLU output after 100 epochs shows digit shapes and local "
       "edges.",
}
# Short names of the claims, for the index and the comparison's rows.
TOPICS = {1: "Larger kernels", 2: "More channels", 3: "The initial learning rate",
          4: "Momentum", 5: "The initial weight std", 6: "Softmax vs Euclidean loss",
          7: "CNN vs MLP", 8: "First-layer feature maps"}

__all__ = ["ORIGINAL", "CLAIMS", "TOPICS", "DATASET"]
