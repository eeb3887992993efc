"""Logistic regression with an L2 penalty, fitted in float64 by L-BFGS with a strong-Wolfe line search."""
import torch


def fixed(shape, seed):
    """Deterministic pseudo-random values in [-0.25, 0.25] (the same in any framework)."""
    n = 1
    for size in shape:
        n *= size
    return torch.tensor([((i * 7919 + seed * 104729) % 201 - 100) / 400 for i in range(n)]).reshape(shape)


x = fixed((40, 3), 5).double() * 8
labels = [float(r[0] - 2 * r[1] + 0.5 * r[2] + 0.3 * ((i % 5) - 2) > 0) for i, r in enumerate(x.tolist())]
y = torch.tensor(labels, dtype=torch.float64).reshape(40, 1)
w = torch.zeros(3, 1, dtype=torch.float64, requires_grad=True)
b = torch.zeros(1, dtype=torch.float64, requires_grad=True)

optimizer = torch.optim.LBFGS([w, b], lr=1, max_iter=50, line_search_fn="strong_wolfe")
loss_fn = torch.nn.BCEWithLogitsLoss()


def closure():
    optimizer.zero_grad()
    loss = loss_fn(x @ w + b, y) + 0.01 * (w ** 2).sum()
    loss.backward()
    return loss


for step in range(3):
    loss = optimizer.step(closure)
    print(step, loss.item())
print("w", w.detach().reshape(-1).tolist(), "b", b.item())
