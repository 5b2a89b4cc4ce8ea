"""The real-DAX oracle: the spec compared with a Debian kernel's fsdax path, in QEMU.

``fixture.py`` prepares a kernel, its modules and an initramfs from Debian packages (cache
folder, never /boot); ``daxguest.c`` is the guest's command server; ``guest.py`` boots QEMU
(TCG) with an emulated NVDIMM, talks to the guest over a serial socket, crashes and reboots
it; ``dax_oracle.py`` runs generated operation sequences on the kernel and on the spec design
that models that kernel, compares after every step, and checks crash points.
"""
