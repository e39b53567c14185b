"""A generated corpus of reports for the duplicate detector's benchmark: reports of a few
categories and many villages, built from shared phrases (so unrelated reports of one category
have words in common, as real ones do), and a share of them re-reported in other words."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

from common.vocabulary import Category

CATEGORIES = (
    Category.VILLAGE_TYRANT,
    Category.PROTECTIVE_UMBRELLA,
    Category.MASS_ECONOMIC,
    Category.DUTY_CRIME,
    Category.PUBLIC_ORDER,
)
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘"
_GIVEN = "强军伟华明建国平志刚勇杰涛斌超波辉鹏飞龙海峰亮磊春红英芳霞燕玲"
_WHO = ("村霸", "村支书", "村主任", "镇干部", "包工头", "小卖部老板", "砂场老板", "村会计")
_WHAT = (
    "强占村集体鱼塘",
    "殴打前去理论的村民",
    "长期放高利贷逼债上门",
    "侵吞扶贫款",
    "向商户收取保护费",
    "垄断村里的砂石生意",
    "在换届选举中贿选拉票",
    "私自出租集体土地",
    "虚报冒领低保金",
    "威胁举报人家属",
    "纠集社会闲散人员寻衅滋事",
    "非法占用耕地建房",
    "截留征地补偿款",
    "强行承揽村里工程",
)
_WHEN = ("去年秋天", "今年三月", "近两年来", "上个月", "春节前后", "多年来", "最近")
_HOW = ("多次", "公然", "暗中", "伙同他人", "仗着亲戚关系", "带人", "长期")
_TAIL = (
    "村民敢怒不敢言",
    "群众多次反映无人处理",
    "造成恶劣影响",
    "涉及金额二十多万元",
    "有多名村民可以作证",
    "请上级部门调查",
    "受害群众有十几户",
)


def _name(rng: random.Random) -> str:
    return rng.choice(_SURNAMES) + "某" + rng.choice(_GIVEN)


def report_text(rng: random.Random) -> str:
    """An original report: who, when, how, two deeds and a closing remark."""
    deeds = rng.sample(_WHAT, 2)
    return (
        f"{rng.choice(_WHO)}{_name(rng)}{rng.choice(_WHEN)}{rng.choice(_HOW)}{deeds[0]}，"
        f"还{deeds[1]}，{rng.choice(_TAIL)}"
    )


def reworded(rng: random.Random, text: str) -> str:
    """The same matter told again: a few characters dropped or changed, punctuation
    differing, sometimes a remark added."""
    chars = [c for c in text if rng.random() > 0.06]
    for _ in range(rng.randint(0, 2)):
        chars.insert(rng.randrange(len(chars) + 1), rng.choice("了的是在和，。"))
    told = "".join(chars)
    if rng.random() < 0.3:
        told += "，" + rng.choice(_TAIL)
    return told


@dataclass(frozen=True)
class Report:
    category: Category
    village: str | None
    text: str


def corpus(seed: int, villages: int, duplicate_share: float = 0.1) -> Iterator[Report]:
    """Endless reports in report order: each one, with duplicate_share, a retelling of an
    earlier report of the same category and village, else a new matter."""
    rng = random.Random(seed)
    earlier: list[Report] = []
    while True:
        if earlier and rng.random() < duplicate_share:
            first = rng.choice(earlier[-5000:])
            report = Report(first.category, first.village, reworded(rng, first.text))
        else:
            village = None if rng.random() < 0.05 else f"v{rng.randrange(villages):05d}"
            report = Report(rng.choice(CATEGORIES), village, report_text(rng))
            earlier.append(report)
        yield report
