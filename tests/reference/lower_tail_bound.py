#!/usr/bin/env python3
"""How often any valid test of "no effect" can reject in the lower tail on
the Hillstrom untreated customers' spend, per calibration configuration
(the table in the README's "Calibration", "What no valid test can reach").

A test that keeps its level for every distribution of the units under the
null hypothesis that the arms' units are exchangeable must keep it given
the pooled values (the order statistics are sufficient and complete for
that family): it is a permutation test (Lehmann & Stein 1949; Lehmann &
Romano 2005, Testing Statistical Hypotheses, 3rd ed., §5.8-5.9). Given the
K buyers in a sample of n, with n_t units in the treatment, the lowest
treatment mean (no buyer among the treated) has conditional probability
C(n - n_t, K) / C(n, K). While that atom exceeds alpha/2 = 2.5%, no
non-randomized test at that level can reject for a lower treatment mean
at all. So the lower tail's rate is at most 2.5% x P(K >= k*), where k* is
the smallest K whose atom is at most 2.5%; the issue's floor for each tail
is 1.5%.

  pip install scipy numpy
  python3 tests/reference/lower_tail_bound.py tests/data/hillstrom/untreated_spend.csv
"""

import sys

import numpy as np
from scipy.stats import hypergeom

HALF_ALPHA = 0.025
SPLITS = (0.5, 0.1, 0.05)


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "tests/data/hillstrom/untreated_spend.csv"
    spend = np.loadtxt(path, skiprows=1)
    pool, buyers = len(spend), int((spend > 0).sum())
    print(f"{pool} customers, {buyers} buyers; alpha/2 = {HALF_ALPHA}")
    print()
    print("| split | n | treated | mean buyers in the sample | k* | P(K >= k*) "
          "| lower-tail rate at most | P(no treated buyer) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for share in SPLITS:
        for n in (500, 2000, 5000, pool):
            treated = int(round(share * n))
            sample_buyers = hypergeom(pool, buyers, n)

            def atom(k):
                return hypergeom(n, k, treated).pmf(0)

            k_star = next(k for k in range(1, buyers + 1) if atom(k) <= HALF_ALPHA)
            reach = sample_buyers.sf(k_star - 1)
            no_buyer = sum(sample_buyers.pmf(k) * atom(k) for k in range(0, buyers + 1))
            split = f"{round(share * 100)}/{round((1 - share) * 100)}"
            print(f"| {split} | {n} | {treated} | {sample_buyers.mean():.1f} | {k_star} "
                  f"| {reach:.3g} | {HALF_ALPHA * reach * 100:.3g}% | {no_buyer:.3f} |")


if __name__ == "__main__":
    main()
