"""The kernel oracle: the spec compared with a real XFS (reflink, loop device).

``kernel.py`` wraps the syscalls (fallocate, FICLONE/FICLONERANGE, FIEMAP, shutdown) on a
loop-mounted XFS; ``differential.py`` generates operation sequences, runs them on the spec
and on the kernel, and shrinks a mismatch.
"""
