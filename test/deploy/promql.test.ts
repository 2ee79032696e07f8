import { describe, expect, it } from 'vitest';
import { metricNames, selectors, substituteVariables, thresholdFreeParts } from '../helpers/promql.ts';

/** The PromQL reading the operator-kit tests rely on, on the shapes the kit's queries take. */

describe('metricNames', () => {
  it('finds the selected metrics, not functions, label lists, matchers, durations or keywords', () => {
    expect(metricNames('sum by (route, le) (rate(x_bucket{route!~"/a|b", job="j"}[5m])) / on (instance) group_left (version) y_info > bool 1e3')).toEqual([
      'x_bucket',
      'y_info',
    ]);
    expect(metricNames('histogram_quantile(0.95, sum without (method) (rate(m_bucket[1m] offset 5m)))')).toEqual(['m_bucket']);
    expect(metricNames('(sum(rate(a{s=~"5.."}[5m])) or vector(0)) / sum(rate(a[5m]))')).toEqual(['a']);
    expect(metricNames('count by (version) (tinkr_build_info{job="x and y"}) unless absent(up)')).toEqual(['tinkr_build_info', 'up']);
  });
});

describe('selectors', () => {
  it('gives each series selector with its matchers, as written', () => {
    expect(selectors('sum by (le) (rate(x_bucket{a=~"b|c}", d!="e"}[5m])) / on (i) y + count(z) > bool 1')).toEqual(['x_bucket{a=~"b|c}", d!="e"}', 'y', 'z']);
  });
});

describe('thresholdFreeParts', () => {
  it('drops the comparison against a number, so the compared value is queried', () => {
    expect(thresholdFreeParts('a / b < 0.1')).toEqual(['a / b']);
    expect(thresholdFreeParts('sum without (o) (rate(x{o=~"4..|>3"}[5m])) / sum without (o) (rate(x[5m])) >= bool 1e-3')).toEqual([
      'sum without (o) (rate(x{o=~"4..|>3"}[5m])) / sum without (o) (rate(x[5m]))',
    ]);
    expect(thresholdFreeParts('up{job="t"} == 0')).toEqual(['up{job="t"}']);
  });

  it('splits at set operators, unwraps absent(), and keeps both sides of a comparison of two series', () => {
    expect(thresholdFreeParts('(a > 1) and on (instance) (b < 2)')).toEqual(['a', 'b']);
    expect(thresholdFreeParts('x > 3 unless ignoring (reason) y')).toEqual(['x', 'y']);
    expect(thresholdFreeParts('absent(up{job="tinkr-server"})')).toEqual(['up{job="tinkr-server"}']);
    expect(thresholdFreeParts('a > b')).toEqual(['a', 'b']);
    expect(thresholdFreeParts('candor_total')).toEqual(['candor_total']);
  });

  it('leaves comparisons inside function arguments alone', () => {
    expect(thresholdFreeParts('count(a > 1) > 2')).toEqual(['count(a > 1)']);
    expect(thresholdFreeParts('clamp_max(a > 1, 2)')).toEqual(['clamp_max(a > 1, 2)']);
  });
});

describe('substituteVariables', () => {
  it('replaces each form Grafana knows, and refuses an unknown variable', () => {
    const values = { job: 'j', instance: '.+', __rate_interval: '5m' };
    expect(substituteVariables('rate(x{job="$job", instance=~"${instance:regex}"}[$__rate_interval]) + [[job]]', values)).toBe('rate(x{job="j", instance=~".+"}[5m]) + j');
    expect(() => substituteVariables('x{env="$env"}', values)).toThrow(/\$env/);
  });
});
