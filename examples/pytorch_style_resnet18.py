"""A CIFAR-10 ResNet-18 written the way PyTorch code is written: its own nn.Module classes,
nn.CrossEntropyLoss, a utils.data DataLoader over a dataset with per-sample transforms, and a
hand-written training loop. Porting it from PyTorch took only the five import lines below:

    import torch                              ->  import tinygrad_cnn as torch
    import torch.nn as nn                     ->  import tinygrad_cnn.nn as nn
    import torch.nn.functional as F           ->  import tinygrad_cnn.nn.functional as F
    from torchvision import datasets, transforms  ->  from tinygrad_cnn import data as datasets
                                                  from tinygrad_cnn.utils import transforms
    from torch.utils.data import DataLoader, Subset  ->  from tinygrad_cnn.utils.data import DataLoader, Subset

    python examples/pytorch_style_resnet18.py --epochs 1 --subset 1024      # a quick look
    python examples/pytorch_style_resnet18.py --data-dir ../shared/data/cifar10-subset --epochs 10 --subset 0

Without CIFAR-10 files (in --data-dir, or downloadable with --download) it trains on the
built-in Shapes images, offline. ResNet-18 is 11 million parameters: a CPU epoch of 50,000
images takes hours on 2 cores; use --subset, or a GPU.
"""
import argparse
import os
import time

import tinygrad_cnn as torch
import tinygrad_cnn.nn as nn
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import data as datasets
from tinygrad_cnn.utils import transforms
from tinygrad_cnn.utils.data import DataLoader, Subset

CIFAR_MEAN, CIFAR_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with batch norm and a shortcut (a 1x1 convolution when the shape changes)."""

    expansion = 1

    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(nn.Conv2d(in_planes, planes, kernel_size=1, stride=stride, bias=False),
                                          nn.BatchNorm2d(planes))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)), inplace=True)
        out = self.bn2(self.conv2(out))
        out += self.shortcut(x)
        return F.relu(out)


class ResNet(nn.Module):
    """ResNet for 32x32 images: a 3x3 stem (no max pool), four stages, global average pooling."""

    def __init__(self, block, num_blocks, num_classes=10):
        super().__init__()
        self.in_planes = 64
        self.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.layer1 = self._make_layer(block, 64, num_blocks[0], stride=1)
        self.layer2 = self._make_layer(block, 128, num_blocks[1], stride=2)
        self.layer3 = self._make_layer(block, 256, num_blocks[2], stride=2)
        self.layer4 = self._make_layer(block, 512, num_blocks[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight.data, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.data.fill_(1)
                m.bias.data.zero_()

    def _make_layer(self, block, planes, num_blocks, stride):
        layers = []
        for s in [stride] + [1] * (num_blocks - 1):
            layers.append(block(self.in_planes, planes, s))
            self.in_planes = planes * block.expansion
        return nn.Sequential(*layers)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        out = torch.flatten(self.avgpool(out), 1)
        return self.fc(out)


def ResNet18(num_classes=10):  # noqa: N802 (the name PyTorch code gives it)
    return ResNet(BasicBlock, [2, 2, 2, 2], num_classes)


def load_data(args):
    transform_train = transforms.Compose([transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip(),
                                          transforms.ToTensor(), transforms.Normalize(CIFAR_MEAN, CIFAR_STD)])
    transform_test = transforms.Compose([transforms.ToTensor(), transforms.Normalize(CIFAR_MEAN, CIFAR_STD)])
    try:
        trainset = datasets.CIFAR10(root=args.data_dir, train=True, download=args.download, transform=transform_train)
        testset = datasets.CIFAR10(root=args.data_dir, train=False, download=args.download, transform=transform_test)
    except (FileNotFoundError, datasets.DownloadError) as exc:
        print(f"CIFAR-10 not available ({str(exc).splitlines()[0]}); training on the built-in Shapes images")
        trainset = datasets.Shapes(5000, train=True, transform=transform_train)
        testset = datasets.Shapes(1000, train=False, transform=transform_test)
    if args.subset:
        trainset = Subset(trainset, range(min(args.subset, len(trainset))))
        testset = Subset(testset, range(min(args.subset, len(testset))))
    return trainset, testset


def main():
    parser = argparse.ArgumentParser(description="CIFAR-10 ResNet-18, written as PyTorch code")
    default_data = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data",
                                "cifar10-subset")
    parser.add_argument("--data-dir", default=default_data)
    parser.add_argument("--download", action="store_true")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--subset", type=int, default=1024, help="use the first N images (0: all)")
    parser.add_argument("--workers", type=int, default=0)
    args = parser.parse_args()

    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    trainset, testset = load_data(args)
    trainloader = DataLoader(trainset, batch_size=args.batch_size, shuffle=True, num_workers=args.workers)
    testloader = DataLoader(testset, batch_size=256, shuffle=False, num_workers=args.workers)

    net = ResNet18().to(device)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(net.parameters(), lr=args.lr, momentum=0.9, weight_decay=5e-4)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, args.epochs))
    print(f"ResNet-18 ({sum(p.numel() for p in net.parameters()):,} parameters) on {device}, "
          f"{len(trainset)} training / {len(testset)} test images")

    for epoch in range(args.epochs):
        net.train()
        train_loss, correct, total, start = 0.0, 0, 0, time.time()
        for inputs, targets in trainloader:
            inputs, targets = inputs.to(device), targets.to(device)
            optimizer.zero_grad()
            outputs = net(inputs)
            loss = criterion(outputs, targets)
            loss.backward()
            optimizer.step()
            train_loss += loss.item() * targets.size(0)
            _, predicted = outputs.max(1)
            total += targets.size(0)
            correct += predicted.eq(targets).sum().item()
        scheduler.step()

        net.eval()
        test_correct, test_total = 0, 0
        with torch.no_grad():
            for inputs, targets in testloader:
                inputs, targets = inputs.to(device), targets.to(device)
                _, predicted = net(inputs).max(1)
                test_total += targets.size(0)
                test_correct += predicted.eq(targets).sum().item()
        print(f"epoch {epoch + 1}: loss {train_loss / total:.4f}, train acc {correct / total:.4f}, "
              f"test acc {test_correct / test_total:.4f} ({time.time() - start:.1f}s)")
    print(f"Test accuracy: {test_correct / test_total:.4f}")


if __name__ == "__main__":
    main()
