"""An LSTM that predicts the next value of a sawtooth sequence, trained with Adam."""
import torch


def fixed(shape, seed):
    """Deterministic pseudo-random values in [-0.25, 0.25] (the same in any framework)."""
    n = 1
    for size in shape:
        n *= size
    return torch.tensor([((i * 7919 + seed * 104729) % 201 - 100) / 400 for i in range(n)]).reshape(shape)


class Forecaster(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(input_size=1, hidden_size=8, batch_first=True)
        self.head = torch.nn.Linear(8, 1)

    def forward(self, x):
        out, (h, c) = self.lstm(x)
        return self.head(out[:, -1])


series = [((t * 3) % 11) / 5.5 - 1 for t in range(40)]
windows = torch.tensor([series[i:i + 6] for i in range(33)]).reshape(33, 6, 1)
following = torch.tensor([series[i + 6] for i in range(33)]).reshape(33, 1)

model = Forecaster()
with torch.no_grad():
    for k, p in enumerate(model.parameters()):
        p.copy_(fixed(tuple(p.shape), k))
optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
loss_fn = torch.nn.MSELoss()

for step in range(60):
    optimizer.zero_grad()
    loss = loss_fn(model(windows), following)
    loss.backward()
    optimizer.step()
    if step % 10 == 9:
        print(step, loss.item())
print("prediction", model(windows[:3]).reshape(-1).tolist())
