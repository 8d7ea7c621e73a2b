// Every question the editor asks the user before it writes to the workspace (dirty editors, conflicts, rollback
// confirmations) goes through one Prompts object. The extension uses VS Code's message boxes; integration tests
// answer through `answerWith`, so they drive exactly the code the buttons drive.
import * as vscode from 'vscode';

export interface Question<T extends string> {
  readonly message: string;
  readonly detail?: string;
  /** Modal by default: these questions guard writes to the user's files. */
  readonly modal?: boolean;
  readonly choices: readonly T[];
}

export type Answerer = (question: Question<string>) => Promise<string | undefined> | string | undefined;

export class Prompts {
  private answerer: Answerer | undefined;

  /** Resolves with the chosen choice, or undefined when the user dismissed the question. */
  async ask<T extends string>(question: Question<T>): Promise<T | undefined> {
    if (this.answerer) {
      const answer = await this.answerer(question);
      if (answer !== undefined && !question.choices.includes(answer as T)) throw new Error(`"${answer}" is not one of the choices: ${question.choices.join(', ')}`);
      return answer as T | undefined;
    }
    const modal = question.modal ?? true;
    // A "Cancel" choice is the dialog's own close button (a modal otherwise adds a second Cancel of its own).
    const items = question.choices.map((title) => ({ title, isCloseAffordance: title === 'Cancel' }));
    const picked = await vscode.window.showWarningMessage(question.message, { modal, ...(question.detail ? { detail: question.detail } : {}) }, ...items);
    return picked?.title;
  }

  /** Answers the questions with `answerer` instead of message boxes until the returned disposable is disposed. */
  answerWith(answerer: Answerer): vscode.Disposable {
    this.answerer = answerer;
    return new vscode.Disposable(() => {
      if (this.answerer === answerer) this.answerer = undefined;
    });
  }
}
