"""A small classifier trained with SGD and momentum on a TensorDataset through a DataLoader."""
import torch


def fixed(shape, seed):
    """Deterministic pseudo-random values in [-0.25, 0.25] (the same in any framework)."""
    n = 1
    for size in shape:
        n *= size
    return torch.tensor([((i * 7919 + seed * 104729) % 201 - 100) / 400 for i in range(n)]).reshape(shape)


inputs = fixed((64, 4), 1) * 4
rows = inputs.tolist()
targets = torch.tensor([int(r[0] + r[1] * r[2] > 0) + int(r[3] > 0.3) for r in rows])

model = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3))
with torch.no_grad():
    for k, p in enumerate(model.parameters()):
        p.copy_(fixed(tuple(p.shape), k + 2))

dataset = torch.utils.data.TensorDataset(inputs, targets)
loader = torch.utils.data.DataLoader(dataset, batch_size=12)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
loss_fn = torch.nn.CrossEntropyLoss()

for epoch in range(10):
    total = 0.0
    for xb, yb in loader:
        optimizer.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(xb)
    print(epoch, len(loader), total / len(dataset))

with torch.no_grad():
    logits = model(inputs)
print("logits[:2]", logits[:2].tolist())
