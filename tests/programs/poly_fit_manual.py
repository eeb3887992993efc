"""Fit exp(x) on [-1, 1] with a cubic a + b x + c x^2 + d x^3 by hand-written gradient descent."""
import torch

x = torch.arange(-100, 101, dtype=torch.float32) / 100
y = torch.exp(x)
a = torch.tensor(0.1, requires_grad=True)
b = torch.tensor(-0.2, requires_grad=True)
c = torch.tensor(0.3, requires_grad=True)
d = torch.tensor(0.05, requires_grad=True)

learning_rate = 0.2
for t in range(300):
    y_pred = a + b * x + c * x ** 2 + d * x ** 3
    loss = ((y_pred - y) ** 2).mean()
    if t % 50 == 49:
        print(t, loss.item())
    loss.backward()
    with torch.no_grad():
        for p in (a, b, c, d):
            p.add_(p.grad, alpha=-learning_rate)
            p.grad = None

print(f"y = {a.item()} + {b.item()} x + {c.item()} x^2 + {d.item()} x^3")
