"""The baseline: GAN training written the way the official PyTorch DCGAN example is.

pytorch/examples ``dcgan/main.py``: ``torchvision.datasets.ImageFolder`` of JPEG files decoded,
resized, cropped and normalised by DataLoader workers, the example's ``Generator`` and
``Discriminator`` (width ``ngf = ndf = 64``, BatchNorm, Sigmoid and ``BCELoss``), fp32 NCHW,
and the losses read with ``.item()`` every iteration for the log. The WGAN-GP loop keeps that
shape with the WGAN-GP recipe (Gulrajani et al. 2017): a critic without BatchNorm or Sigmoid,
gradient penalty lambda 10, Adam 1e-4 betas (0, 0.9), a G update every ``n_critic`` batches.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader

REAL_LABEL, FAKE_LABEL = 1.0, 0.0


class Generator(nn.Module):
    """The example's G: z ``(N, nz, 1, 1)`` -> 64x64 images in [-1, 1]."""

    def __init__(self, nz: int = 100, ngf: int = 64, nc: int = 3) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False),
            nn.BatchNorm2d(ngf * 8),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 4),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),
            nn.Tanh(),
        )

    def forward(self, input: Tensor) -> Tensor:
        return self.main(input)


class Discriminator(nn.Module):
    """The example's D: 64x64 images -> probabilities ``(N,)``; ``critic=True`` drops the
    BatchNorm and the Sigmoid (the WGAN-GP critic, raw scores)."""

    def __init__(self, ndf: int = 64, nc: int = 3, critic: bool = False) -> None:
        super().__init__()
        norm = nn.Identity if critic else nn.BatchNorm2d
        self.main = nn.Sequential(
            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
            norm(ndf * 2),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False),
            norm(ndf * 4),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False),
            norm(ndf * 8),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False),
            nn.Identity() if critic else nn.Sigmoid(),
        )

    def forward(self, input: Tensor) -> Tensor:
        return self.main(input).view(-1, 1).squeeze(1)


def weights_init(m: nn.Module) -> None:
    """The example's init: conv weights N(0, 0.02), BatchNorm scale N(1, 0.02) and shift 0."""
    classname = m.__class__.__name__
    if classname.find("Conv") != -1:
        nn.init.normal_(m.weight.data, 0.0, 0.02)
    elif classname.find("BatchNorm") != -1:
        nn.init.normal_(m.weight.data, 1.0, 0.02)
        nn.init.constant_(m.bias.data, 0)


def jpeg_loader(root: Path, image_size: int, batch_size: int, workers: int) -> DataLoader:
    """The example's data: ImageFolder over ``root/<class>/*.jpg``, transformed in workers."""
    import torchvision.datasets as dset
    import torchvision.transforms as transforms

    dataset = dset.ImageFolder(
        root=str(root),
        transform=transforms.Compose(
            [
                transforms.Resize(image_size),
                transforms.CenterCrop(image_size),
                transforms.ToTensor(),
                transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
            ]
        ),
    )
    return DataLoader(
        dataset, batch_size=batch_size, shuffle=True, num_workers=workers, drop_last=True
    )


class ReferenceLoop:
    """One training iteration per batch, as the example writes it; ``wgan_gp`` switches to the
    WGAN-GP recipe. :meth:`iteration` returns the logged floats, as the example prints them."""

    def __init__(self, device: torch.device, wgan_gp: bool, width: int = 64, nz: int = 100):
        self.device = device
        self.wgan_gp = wgan_gp
        self.nz = nz
        self.netG = Generator(nz, width).to(device)
        self.netG.apply(weights_init)
        self.netD = Discriminator(width, critic=wgan_gp).to(device)
        self.netD.apply(weights_init)
        lr, betas = (1e-4, (0.0, 0.9)) if wgan_gp else (2e-4, (0.5, 0.999))
        self.optimizerD = torch.optim.Adam(self.netD.parameters(), lr=lr, betas=betas)
        self.optimizerG = torch.optim.Adam(self.netG.parameters(), lr=lr, betas=betas)
        self.criterion = nn.BCELoss()
        self.n_critic = 5
        self.iterations = 0

    def iteration(self, data: tuple[Tensor, Tensor]) -> dict[str, float]:
        self.iterations += 1
        if self.wgan_gp:
            return self._wgan_gp_iteration(data)
        return self._dcgan_iteration(data)

    def _dcgan_iteration(self, data: tuple[Tensor, Tensor]) -> dict[str, float]:
        netG, netD, criterion = self.netG, self.netD, self.criterion
        # (1) Update D network: maximize log(D(x)) + log(1 - D(G(z)))
        netD.zero_grad()
        real_cpu = data[0].to(self.device)
        batch_size = real_cpu.size(0)
        label = torch.full((batch_size,), REAL_LABEL, dtype=real_cpu.dtype, device=self.device)
        output = netD(real_cpu)
        errD_real = criterion(output, label)
        errD_real.backward()
        D_x = output.mean().item()
        noise = torch.randn(batch_size, self.nz, 1, 1, device=self.device)
        fake = netG(noise)
        label.fill_(FAKE_LABEL)
        output = netD(fake.detach())
        errD_fake = criterion(output, label)
        errD_fake.backward()
        D_G_z1 = output.mean().item()
        errD = errD_real + errD_fake
        self.optimizerD.step()
        # (2) Update G network: maximize log(D(G(z)))
        netG.zero_grad()
        label.fill_(REAL_LABEL)
        output = netD(fake)
        errG = criterion(output, label)
        errG.backward()
        D_G_z2 = output.mean().item()
        self.optimizerG.step()
        return {
            "Loss_D": errD.item(),
            "Loss_G": errG.item(),
            "D(x)": D_x,
            "D(G(z)) before": D_G_z1,
            "D(G(z)) after": D_G_z2,
        }

    def _wgan_gp_iteration(self, data: tuple[Tensor, Tensor]) -> dict[str, float]:
        netG, netD = self.netG, self.netD
        # (1) Update the critic: minimize D(G(z)) - D(x) + lambda * gradient penalty
        netD.zero_grad()
        real = data[0].to(self.device)
        batch_size = real.size(0)
        noise = torch.randn(batch_size, self.nz, 1, 1, device=self.device)
        with torch.no_grad():
            fake = netG(noise)
        D_real = netD(real).mean()
        D_fake = netD(fake).mean()
        alpha = torch.rand(batch_size, 1, 1, 1, device=self.device)
        interpolates = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
        gradients = torch.autograd.grad(netD(interpolates).sum(), interpolates, create_graph=True)[
            0
        ]
        gradient_penalty = ((gradients.view(batch_size, -1).norm(2, dim=1) - 1) ** 2).mean()
        errD = D_fake - D_real + 10.0 * gradient_penalty
        errD.backward()
        self.optimizerD.step()
        logs = {"Loss_D": errD.item(), "Wasserstein_D": (D_real - D_fake).item()}
        # (2) Update G every n_critic critic iterations: maximize D(G(z))
        if self.iterations % self.n_critic == 0:
            for p in netD.parameters():
                p.requires_grad = False
            netG.zero_grad()
            errG = -netD(netG(torch.randn(batch_size, self.nz, 1, 1, device=self.device))).mean()
            errG.backward()
            self.optimizerG.step()
            for p in netD.parameters():
                p.requires_grad = True
            logs["Loss_G"] = errG.item()
        return logs
