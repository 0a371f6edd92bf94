"""Build the evaluation bots from ../shared/datasets (read there, never copied into the repo).

    python bench/eval_bots.py [--out bench/results/eval-bots] [--datasets ../shared/datasets]

Writes, under --out:
- banking77.yaml: one snippet per in-scope BANKING77 intent (its train.jsonl queries as
  example questions, a short answer written here), and the id-oos train queries as
  escalation.handoff_examples: what a bank's bot must hand to a person.
- banking77-holdout.yaml and banking77-holdout.jsonl: the same bot built from four fifths of
  train.jsonl, and the other fifth as queries to check it on.
- faq_covid.yaml: the 67 real FAQ entries of faq_covid/faq.jsonl as snippets.
Then: supportbot eval <out>/banking77.yaml ../shared/datasets/banking77_oos/valid.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATASETS = REPO.parent / "shared" / "datasets"

# Short answers of our own for a fictional bank, one per in-scope intent.
BANKING_ANSWERS = {
    "activate_my_card": "Open the app, tap Cards, choose the new card and follow 'Activate card'; it works within minutes.",
    "apple_pay_or_google_pay": "Add your card in Apple Wallet or Google Wallet from the card screen in our app; both are supported.",
    "automatic_top_up": "Turn on Auto top-up in Account > Top up and set the amount and the balance that triggers it.",
    "balance_not_updated_after_bank_transfer": "Bank transfers can take up to 2 working days to show; if it is longer, send us the transfer reference.",
    "balance_not_updated_after_cheque_or_cash_deposit": "Cash and cheque deposits show after the bank clears them, usually within 3 working days.",
    "beneficiary_not_allowed": "A payee can be refused when their details fail our checks; check the account number and name, or add them again.",
    "cancel_transfer": "A transfer can be cancelled from its details screen while it is still pending; once sent, it cannot be recalled.",
    "card_about_to_expire": "We send a new card a month before expiry; you can also order one in Cards > Replace card.",
    "card_arrival": "Cards arrive within 5 working days in the UK and 10 abroad; you can track the delivery in Cards.",
    "card_linking": "To link a card you already have, go to Cards > Link a card and enter the details printed on it.",
    "card_payment_fee_charged": "Card payments are free in your home currency; other currencies may carry a fee shown before you pay.",
    "card_payment_not_recognised": "If you don't recognise a card payment, freeze the card in the app and report the payment from its details.",
    "card_payment_wrong_exchange_rate": "We use the rate at the moment the merchant settles the payment, which can differ from the rate at purchase.",
    "cash_withdrawal_charge": "Cash withdrawals are free up to £200 a month; above that a 2% fee applies.",
    "cash_withdrawal_not_recognised": "If a cash withdrawal isn't yours, freeze your card now and report it from the transaction screen.",
    "change_pin": "Change your PIN at any cash machine, or view it in the app under Cards > Show PIN.",
    "country_support": "We serve customers living in the UK and the EEA; the app lists the supported countries when you sign up.",
    "declined_card_payment": "Card payments can be declined for a low balance, a frozen card or a merchant block; the app shows the reason.",
    "declined_cash_withdrawal": "A withdrawal can be declined by a daily limit or a wrong PIN; check Cards > Limits in the app.",
    "declined_transfer": "Transfers can be declined by limits or security checks; the reason is shown on the transfer in the app.",
    "direct_debit_payment_not_recognised": "If you don't recognise a direct debit, you can cancel the mandate in Payments and report it to us.",
    "disposable_card_limits": "Disposable virtual cards work for one payment and then renew; you can create up to 20 a day.",
    "edit_personal_details": "Edit your address, email and phone in Profile > Personal details; a name change needs a document.",
    "exchange_charge": "Exchanging currencies is free on weekdays up to £1,000 a month; a small fee applies above that and at weekends.",
    "exchange_via_app": "To exchange money, open the account, tap Exchange, choose the currencies and confirm the amount.",
    "extra_charge_on_statement": "An extra charge can be a merchant fee or an exchange fee; tap the transaction to see what it is.",
    "failed_transfer": "If a transfer failed, the money returns to your balance within a day; check the payee details before trying again.",
    "fiat_currency_support": "You can hold and exchange over 30 currencies; the full list is in the app under Exchange.",
    "getting_spare_card": "Order an extra card in Cards > Add a card; you can have up to 3 physical cards.",
    "lost_or_stolen_phone": "If your phone is lost or stolen, log in from another device to freeze your cards, or call us to lock the account.",
    "order_physical_card": "Order a physical card in Cards > Order card; the first one is free.",
    "pending_card_payment": "Card payments stay pending until the merchant completes them, usually within 3 working days.",
    "pending_cash_withdrawal": "A cash withdrawal shows as pending until the machine's bank confirms it, usually the next working day.",
    "pending_top_up": "Top-ups can stay pending while your bank confirms them, usually for a few minutes and at most a day.",
    "pending_transfer": "Transfers are pending while they pass checks; most arrive the same day.",
    "refund_not_showing_up": "Refunds appear once the merchant sends them, which can take up to 10 working days.",
    "request_refund": "For a refund, contact the merchant first; if that fails, raise a dispute from the payment's details.",
    "reverted_card_payment?": "A reverted card payment means the merchant cancelled it; the money returns to your balance automatically.",
    "supported_cards_and_currencies": "You can top up with Visa and Mastercard debit and credit cards in most major currencies.",
    "top_up_failed": "A top-up fails when the card issuer declines it; check the card details or try another card.",
    "top_up_reverted": "A reverted top-up means your bank returned it; the money goes back to the card you used.",
    "transaction_charged_twice": "A payment shown twice is usually a pending hold and the final charge; the duplicate drops off within days.",
    "transfer_fee_charged": "Transfers in your home currency are free; international transfers show their fee before you confirm.",
    "transfer_not_received_by_recipient": "If the recipient hasn't got the money after 2 working days, share the transfer confirmation with them and us.",
    "transfer_timing": "Domestic transfers usually arrive within hours; international ones can take up to 5 working days.",
    "verify_top_up": "We may ask you to verify a card top-up with a small test charge and a code shown on your bank statement.",
    "visa_or_mastercard": "Our cards are Mastercard debit cards.",
    "why_verify_identity": "The law requires us to verify who you are before you can use the account; it keeps your money safe.",
    "wrong_amount_of_cash_received": "If a machine gave you less cash than you asked for, report it from the withdrawal's details and we will investigate.",
    "wrong_exchange_rate_for_cash_withdrawal": "Cash abroad uses the network's rate when the withdrawal settles, plus any fee the machine shows.",
}


def read_jsonl(path: Path) -> list[dict[str, object]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def title_of(intent: str) -> str:
    return intent.rstrip("?").replace("_", " ").capitalize()


# offline.min_score per engine: the two score on different scales. Chosen with
# `supportbot eval --calibrate` on valid.jsonl, then rounded to a flat part of the curve.
MIN_SCORE = {"lexical": 0.45, "semantic": 0.55}


def banking_bot(datasets: Path, out: Path, engine: str, holdout: bool = False) -> Path:
    """With `holdout`, every fifth train row is kept out of the bot and written to
    banking77-holdout.jsonl: queries the engine's design never saw, for a second check."""
    rows = read_jsonl(datasets / "banking77_oos" / "train.jsonl")
    if holdout:
        kept = [r for i, r in enumerate(rows) if i % 5 == 4]
        rows = [r for i, r in enumerate(rows) if i % 5 != 4]
        (out / "banking77-holdout.jsonl").write_text("".join(json.dumps(r) + "\n" for r in kept), encoding="utf-8")
    questions: dict[str, list[str]] = {}
    handoff_examples: list[str] = []
    for row in rows:
        if row["kind"] == "in-scope":
            questions.setdefault(str(row["expect"]), []).append(str(row["text"]))
        else:
            handoff_examples.append(str(row["text"]))
    missing = sorted(set(questions) - set(BANKING_ANSWERS))
    if missing:
        sys.exit(f"no answer written for intents: {', '.join(missing)}")
    snippets = [
        {"id": intent, "title": title_of(intent), "questions": qs, "answer": BANKING_ANSWERS[intent]}
        for intent, qs in sorted(questions.items())
    ]
    (out / "knowledge").mkdir(parents=True, exist_ok=True)
    name = "banking77-holdout" if holdout else "banking77"
    (out / "knowledge" / f"{name}.yaml").write_text(json.dumps({"snippets": snippets}, indent=1), encoding="utf-8")
    bot = {
        "version": 1,
        "id": f"{name}-eval",
        "name": "Banking evaluation bot",
        "description": "Built by bench/eval_bots.py from BANKING77-OOS train.jsonl.",
        "model": {"provider": "offline"},
        "system_prompt": "You are the support assistant of a bank. Answer only from the snippets; hand off anything else.",
        "knowledge": {"include": [f"knowledge/{name}.yaml"], "top_k": 4, "engine": engine},
        "escalation": {"confidence_threshold": 0.55, "handoff_examples": handoff_examples},
        "offline": {"min_score": MIN_SCORE[engine]},
    }
    path = out / f"{name}.yaml"
    path.write_text(json.dumps(bot, indent=1), encoding="utf-8")  # JSON is YAML
    return path


def covid_bot(datasets: Path, out: Path, engine: str) -> Path:
    faq = read_jsonl(datasets / "faq_covid" / "faq.jsonl")
    snippets = [
        {
            "id": str(e["id"]),
            "title": str(e["questions"][0])[:120],
            "questions": list(e["questions"]),
            "answer": str(e["answer"]),
        }  # type: ignore[index]
        for e in faq
    ]
    (out / "knowledge").mkdir(parents=True, exist_ok=True)
    (out / "knowledge" / "faq_covid.yaml").write_text(json.dumps({"snippets": snippets}, indent=1), encoding="utf-8")
    bot = {
        "version": 1,
        "id": "faq-covid-eval",
        "name": "COVID FAQ evaluation bot",
        "description": "Built by bench/eval_bots.py from faq_covid/faq.jsonl (JHU COVID-QA).",
        "model": {"provider": "offline"},
        "system_prompt": "You answer questions about COVID-19 from the FAQ snippets only.",
        "knowledge": {"include": ["knowledge/faq_covid.yaml"], "top_k": 4, "engine": engine},
        "offline": {"min_score": MIN_SCORE[engine]},
    }
    path = out / "faq_covid.yaml"
    path.write_text(json.dumps(bot, indent=1), encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "eval-bots")
    parser.add_argument(
        "--engine",
        choices=sorted(MIN_SCORE),
        default="semantic",
        help="retrieval engine of both bots",
    )
    args = parser.parse_args()
    if not (args.datasets / "banking77_oos" / "train.jsonl").exists():
        sys.exit(
            f"the evaluation data is not at {args.datasets} (check out ../shared beside the repo, or pass --datasets)"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    built = (
        banking_bot(args.datasets, args.out, args.engine),
        banking_bot(args.datasets, args.out, args.engine, holdout=True),
        covid_bot(args.datasets, args.out, args.engine),
    )
    for path in built:
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
