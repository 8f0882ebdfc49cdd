"""Train a two-layer network on random data with tinygrad_cnn and print the loss falling.

Runs offline in a few seconds: the quickest check that the engine works end to end.
    python examples/two_layer_net.py
"""
import argparse

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--lr", type=float, default=0.5)
    parser.add_argument("--device", default="cpu", help="cpu, gpu, cuda:N or auto")
    args = parser.parse_args()

    tc.manual_seed(0)
    n, d_in, hidden, classes = 512, 20, 64, 4
    # A learnable random task: the labels come from a hidden random linear map.
    x = tc.randn(n, d_in, device=args.device)
    y = (x @ tc.randn(d_in, classes, device=args.device)).argmax(dim=1)

    w1 = (tc.randn(d_in, hidden, device=args.device) * (2 / d_in) ** 0.5).requires_grad_()
    b1 = tc.zeros(hidden, device=args.device, requires_grad=True)
    w2 = (tc.randn(hidden, classes, device=args.device) * (1 / hidden) ** 0.5).requires_grad_()
    b2 = tc.zeros(classes, device=args.device, requires_grad=True)
    params = [w1, b1, w2, b2]

    for step in range(args.steps + 1):
        logits = (x @ w1 + b1).relu() @ w2 + b2
        loss = F.cross_entropy(logits, y)
        for p in params:
            p.zero_grad()
        loss.backward()
        with tc.no_grad():
            for p in params:
                p.data -= args.lr * p.grad.data
        if step % 20 == 0:
            accuracy = (logits.argmax(dim=1) == y).numpy().mean()
            print(f"step {step:4d}  loss {loss.item():.4f}  accuracy {accuracy:.3f}")


if __name__ == "__main__":
    main()
